// EM3: an organisation's own DKIM key. Carepost generates the key pair, so the private key never travels: it is sealed
// by the vault (TR1) and the owner publishes the public half in DNS. Mail of that organisation is then signed with
// d=<its domain>; without a key, the deployment's key (DKIM_* settings), if any, signs.
import { generateKeyPairSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { orgDkimKeys, type SealedEnvelope } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { open, seal, type KekRing } from '../messages/vault';
import { normaliseMailDomain } from './tls';
import type { DkimOptions } from './transport';

export const DKIM_KEY_PURPOSE = 'dkim-private-key';
const SELECTOR = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type OrgDkimKey = { domain: string; selector: string; dnsName: string; dnsRecord: string; createdAt: Date };

export async function getOrgDkimKey(db: DbOrTx, orgId: string): Promise<OrgDkimKey | undefined> {
  const [row] = await db
    .select({ domain: orgDkimKeys.domain, selector: orgDkimKeys.selector, dnsRecord: orgDkimKeys.dnsRecord, createdAt: orgDkimKeys.createdAt })
    .from(orgDkimKeys)
    .where(eq(orgDkimKeys.orgId, orgId));
  return row ? { ...row, dnsName: `${row.selector}._domainkey.${row.domain}` } : undefined;
}

export type GenerateDkimResult = { status: 'generated'; key: OrgDkimKey } | { status: 'invalid'; fieldErrors: Record<string, string> };

/** A new 2048-bit RSA key for the domain and selector, replacing any earlier one (a new selector lets both be published during a change). */
export async function generateOrgDkimKey(
  db: Database,
  ring: KekRing,
  options: { orgId: string; domain: string; selector: string; actor: { type: 'admin'; id: string }; now: Date },
): Promise<GenerateDkimResult> {
  const fieldErrors: Record<string, string> = {};
  const domain = normaliseMailDomain(options.domain);
  const selector = options.selector.trim().toLowerCase();
  if (!domain) fieldErrors.domain = 'Enter the domain your mail is sent from, such as example-hospital.org.';
  if (!SELECTOR.test(selector)) fieldErrors.selector = 'Use letters, digits and hyphens, starting with a letter or digit (for example carepost1).';
  if (!domain || Object.keys(fieldErrors).length > 0) return { status: 'invalid', fieldErrors };
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dnsRecord = `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const values = { domain, selector, sealedPrivateKey: seal(ring, { orgId: options.orgId, purpose: DKIM_KEY_PURPOSE }, privateKey), dnsRecord, createdAt: options.now };
  await db.transaction(async (tx) => {
    await tx.insert(orgDkimKeys).values({ orgId: options.orgId, ...values }).onConflictDoUpdate({ target: orgDkimKeys.orgId, set: values });
    await appendAudit(tx, options.orgId, { actorType: 'admin', actorId: options.actor.id, action: 'dkim.key_generated', subjectType: 'organisation', subjectId: options.orgId, details: { domain, selector } });
  });
  return { status: 'generated', key: { domain, selector, dnsRecord, dnsName: `${selector}._domainkey.${domain}`, createdAt: options.now } };
}

export async function removeOrgDkimKey(db: Database, options: { orgId: string; actor: { type: 'admin'; id: string } }): Promise<boolean> {
  return db.transaction(async (tx) => {
    const removed = await tx.delete(orgDkimKeys).where(eq(orgDkimKeys.orgId, options.orgId)).returning({ domain: orgDkimKeys.domain, selector: orgDkimKeys.selector });
    if (removed.length === 0) return false;
    await appendAudit(tx, options.orgId, { actorType: 'admin', actorId: options.actor.id, action: 'dkim.key_removed', subjectType: 'organisation', subjectId: options.orgId, details: { domain: removed[0]!.domain, selector: removed[0]!.selector } });
    return true;
  });
}

/** The signing options for a sealed key row (the engine reads the row with the organisation it already loads). */
export function openDkimKey(ring: KekRing, orgId: string, row: { domain: string; selector: string; sealedPrivateKey: SealedEnvelope }): DkimOptions {
  return { domainName: row.domain, keySelector: row.selector, privateKey: open(ring, { orgId, purpose: DKIM_KEY_PURPOSE }, row.sealedPrivateKey).toString() };
}
