export { forbidden, optionalAdmin, requireAdmin, type SignedInAdmin } from '../../server/admin/guards';
export { ADMIN_ROLES, can, capabilitiesOf, type AdminCapability, type AdminRole } from '../../server/admin/roles';
export { ADMIN_IDLE_MS, createAdminSession, endAdminSession, getAdminSession } from '../../server/admin/sessions';
export { adminSessionCookieName } from '../../server/identity/cookies';
export { getOrganisationSettings, saveOrganisationSettings } from '../../server/orgs/settings';
