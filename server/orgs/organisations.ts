import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { organisations } from '../../db/schema/index';
import { readableTextColor } from './branding';

export type OrganisationBranding = {
  id: string;
  slug: string;
  name: string;
  brandColor: string;
  brandTextColor: string;
  hasLogo: boolean;
  /** What a patient must prove before reading a message (OT5); shown on the pickup page, so not a secret. */
  pickupPolicy: 'code' | 'code_dob' | 'passkey';
};

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The public face of an organisation, for its landing page. Undefined for an unknown or malformed slug. */
export async function getOrganisationBranding(db: DbOrTx, slug: string): Promise<OrganisationBranding | undefined> {
  if (!SLUG.test(slug)) return undefined;
  const [org] = await db
    .select({ id: organisations.id, slug: organisations.slug, name: organisations.name, brandColor: organisations.brandColor, logoSvg: organisations.logoSvg, pickupPolicy: organisations.pickupPolicy })
    .from(organisations)
    .where(eq(organisations.slug, slug));
  if (!org) return undefined;
  return {
    id: org.id,
    slug: org.slug,
    name: org.name,
    brandColor: org.brandColor,
    brandTextColor: readableTextColor(org.brandColor),
    hasLogo: org.logoSvg !== null,
    pickupPolicy: org.pickupPolicy,
  };
}

export async function getOrganisationLogo(db: DbOrTx, slug: string): Promise<string | undefined> {
  if (!SLUG.test(slug)) return undefined;
  const [org] = await db.select({ logoSvg: organisations.logoSvg }).from(organisations).where(eq(organisations.slug, slug));
  return org?.logoSvg ?? undefined;
}
