// The words of a renewal request or expiry reminder. Two forms:
// - the message content, sealed in the vault like any message and read in the portal after sign-in: it names the
//   topic, and sends the patient to their choices page (no link needed there);
// - the notice the engine writes at hand-off for email and SMS (EM4: no PHI): it names neither the topic nor any
//   health matter, only the organisation, and carries a renewal link minted then for this patient and topic. The link
//   is built in memory for the mail and never stored, logged or audited.
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { campaignRecipients, campaigns, type CampaignKind, type Delivery } from '../../db/schema/index';
import { noticeTexts } from '../i18n/notices';
import type { MessageContent } from '../messages/vault';

/** The request as read in the portal, in the patient's language (issue 9). */
export function campaignContent(kind: CampaignKind, org: { name: string }, topic: { name: string }, locale?: string | null): MessageContent {
  return noticeTexts(locale).campaignContent({ kind, org: org.name, topic: topic.name });
}

/** EM4: the email and SMS notice. The organisation's name and the link only; never the topic (it may hint at health). */
export function campaignNotice(
  kind: CampaignKind,
  org: { name: string },
  renewalUrl: string,
  linkDays: number,
  locale?: string | null,
): { subject: string; text: string; sms: string } {
  return noticeTexts(locale).campaignNotice({ kind, org: org.name, url: renewalUrl, days: linkDays });
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
