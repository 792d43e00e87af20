// The words of a renewal request or expiry reminder. Two forms:
// - the message content, sealed in the vault like any message and read in the portal after sign-in: it names the
//   topic, and sends the patient to their choices page (no link needed there);
// - the notice the engine writes at hand-off for email and SMS (EM4: no PHI): it names neither the topic nor any
//   health matter, only the organisation, and carries a renewal link minted then for this patient and topic. The link
//   is built in memory for the mail and never stored, logged or audited.
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { campaignRecipients, campaigns, type CampaignKind, type Delivery } from '../../db/schema/index';
import type { MessageContent } from '../messages/vault';

export function campaignContent(kind: CampaignKind, org: { name: string }, topic: { name: string }): MessageContent {
  if (kind === 'expiry_reminder') {
    return {
      subject: `Your permission for ${topic.name} ends soon`,
      text: [
        `The permission you gave ${org.name} for "${topic.name}" ends soon.`,
        'If you want to keep receiving these messages, open Your choices and renew it. If you do nothing, we stop when it ends.',
      ].join('\n\n'),
    };
  }
  return {
    subject: `Please renew your permission for ${topic.name}`,
    text: [
      `${org.name} asks whether you want to keep receiving "${topic.name}".`,
      'To keep receiving these messages, open Your choices and renew your permission. If you do nothing, nothing changes until it ends; you can take it back at any time.',
    ].join('\n\n'),
  };
}

/** EM4: the email and SMS notice. The organisation's name and the link only; never the topic (it may hint at health). */
export function campaignNotice(kind: CampaignKind, org: { name: string }, renewalUrl: string, linkDays: number): { subject: string; text: string; sms: string } {
  const reminder = kind === 'expiry_reminder';
  const subject = reminder ? `${org.name}: a permission you gave ends soon` : `${org.name}: please renew your permission`;
  const text = [
    reminder
      ? `A permission you gave ${org.name} to send you some messages ends soon.`
      : `You gave ${org.name} permission to send you some messages. We would like to ask whether you want to keep it.`,
    `To renew it, sign in here: ${renewalUrl}`,
    `The link works for ${linkDays} days. If you do nothing, the messages stop when your permission ends. You can take your permission back at any time.`,
  ].join('\n\n');
  const sms = `${org.name}: ${reminder ? 'a permission you gave us ends soon' : 'please renew your permission'}. Renew: ${renewalUrl}`;
  return { subject, text, sms };
}

/** For the engine at hand-off: the campaign a delivery is a request of, if any (one indexed lookup). */
export async function campaignOfDelivery(db: DbOrTx, d: Pick<Delivery, 'orgId' | 'id'>): Promise<{ kind: CampaignKind; topicId: string } | undefined> {
  const [row] = await db
    .select({ kind: campaigns.kind, topicId: campaignRecipients.topicId })
    .from(campaignRecipients)
    .innerJoin(campaigns, and(eq(campaigns.orgId, campaignRecipients.orgId), eq(campaigns.id, campaignRecipients.campaignId)))
    .where(and(eq(campaignRecipients.orgId, d.orgId), eq(campaignRecipients.deliveryId, d.id)));
  return row;
}
