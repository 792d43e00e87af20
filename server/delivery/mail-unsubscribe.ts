// The mailto: half of List-Unsubscribe (EM1, RFC 2369/8058): a mail to unsubscribe@<our domain> whose subject carries
// the same signed unsubscribe token as the https link. It does what the one-click POST does: one topic off on one
// channel. Without a valid token it does nothing (a From address proves nothing).
import { decodeJwt } from 'jose';
import { simpleParser } from 'mailparser';
import type { Database } from '../../db/client';
import type { ConsentChannel } from '../../db/schema/index';
import { lowerPreferences } from '../consent/preferences';
import { openPatientLink } from '../links/links';
import type { LinkKeyring } from '../links/tokens';

const TOKEN = /\bunsubscribe\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/i;

/** The mailto: URI for an unsubscribe token. */
export function unsubscribeMailto(domain: string, token: string): string {
  return `mailto:unsubscribe@${domain}?subject=unsubscribe%20${token}`;
}

export type MailUnsubscribeResult = { status: 'unsubscribed' | 'already' | 'no_token' | 'refused' };

export async function handleUnsubscribeMail(db: Database, keyring: LinkKeyring, raw: Buffer, now: Date): Promise<MailUnsubscribeResult> {
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const token = TOKEN.exec(parsed.subject ?? '')?.[1];
  if (!token) return { status: 'no_token' };
  let orgId: unknown;
  try {
    orgId = decodeJwt(token).org; // only to know which organisation to verify it for; verified below
  } catch {
    return { status: 'refused' };
  }
  if (typeof orgId !== 'string') return { status: 'refused' };
  const opened = await openPatientLink(db, keyring, { purpose: 'unsubscribe', orgId, token, now });
  if (!opened.ok || !opened.claims.context.topicId || !opened.claims.context.channel) return { status: 'refused' };
  const result = await lowerPreferences(db, {
    orgId,
    patientId: opened.claims.patientId,
    change: { kind: 'channel_off', topicId: opened.claims.context.topicId, channel: opened.claims.context.channel as ConsentChannel },
    via: 'unsubscribe',
    now,
  });
  return { status: result.status === 'lowered' ? 'unsubscribed' : result.status === 'already' ? 'already' : 'refused' };
}
