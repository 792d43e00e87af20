// What each admin role may do. Enforced on the server in every admin loader and action (EN3), through requireAdmin.
export type AdminRole = 'owner' | 'compliance' | 'marketer' | 'support';

export type AdminCapability =
  /** The admin home page and aggregate figures (no PHI). */
  | 'overview'
  /** Branding, policies, domains, caps, DKIM, API keys, webhooks. */
  | 'settings'
  /** Invite, change role, disable admins. */
  | 'team'
  /** Create topics (marketing purposes). */
  | 'topics'
  /** Draft, preview, publish and retire authorisation texts. */
  | 'texts'
  /** Create, schedule, launch, pause, resume, cancel consent-renewal campaigns; see their aggregate results. */
  | 'campaigns'
  /** See sample recipients (names, contact points) of a campaign before launch. */
  | 'campaign_recipients'
  /** The compliance dashboard (aggregates). */
  | 'dashboard'
  /** Search and export the audit log; verify the chain. */
  | 'audit'
  /** Find a patient, unlock a locked sign-in, resend a notice. Never message content. */
  | 'support';

const CAPABILITIES: Record<AdminRole, readonly AdminCapability[]> = {
  owner: ['overview', 'settings', 'team', 'topics', 'texts', 'campaigns', 'campaign_recipients', 'dashboard', 'audit', 'support'],
  compliance: ['overview', 'texts', 'campaign_recipients', 'dashboard', 'audit'],
  marketer: ['overview', 'topics', 'campaigns', 'dashboard'],
  support: ['overview', 'support'],
};

export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'compliance', 'marketer', 'support'];

export function can(role: AdminRole, capability: AdminCapability): boolean {
  return CAPABILITIES[role].includes(capability);
}

export function capabilitiesOf(role: AdminRole): readonly AdminCapability[] {
  return CAPABILITIES[role];
}
