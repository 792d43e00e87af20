export { forbidden, optionalAdmin, requireAdmin, type SignedInAdmin } from '../../server/admin/guards';
export { ADMIN_ROLES, can, capabilitiesOf, type AdminCapability, type AdminRole } from '../../server/admin/roles';
export { ADMIN_IDLE_MS, createAdminSession, endAdminSession, getAdminSession } from '../../server/admin/sessions';
export { adminSessionCookieName } from '../../server/identity/cookies';
export { getOrganisationSettings, saveOrganisationSettings } from '../../server/orgs/settings';
export { addTlsEnforcedDomain, listTlsEnforcedDomains, removeTlsEnforcedDomain } from '../../server/delivery/tls';
export { createApiKey, listApiKeys, parseNewKeyForm, revokeApiKey, rotateApiKey } from '../../server/api/keys';
export { checkWebhookUrl, createWebhookEndpoint, disableWebhookEndpoint, listWebhookEndpoints, replayWebhookDelivery, WEBHOOK_EVENT_TYPES, webhookLog } from '../../server/delivery/webhooks';
export { API_SCOPES } from '../../db/schema/index';
export { generateOrgDkimKey, getOrgDkimKey, removeOrgDkimKey } from '../../server/delivery/dkim-keys';
export { findPatientsForSupport, patientForSupport, unlockContactForSupport } from '../../server/admin/support';
export { noticesForSupport, resendNotice, RESENDS_PER_MESSAGE_PER_DAY, type SupportNotice } from '../../server/admin/resend';
export { adminAttemptCookieName, adminEnrolCookieName, adminResetCookieName, adminWebauthnCookieName } from '../../server/admin/cookies';
export { hashPassword, normaliseAdminEmail, passwordProblem, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../server/admin/passwords';
export { groupedSecret, otpauthUri } from '../../server/admin/totp';
export { passkeyOptionsWait, SIGN_IN_ATTEMPT_TTL_MS, secondFactorChoices, signInWithPassword, signInWithTotp, signInWithVerifiedPasskey } from '../../server/admin/sign-in';
export {
  finishAdminPasskeyAuthentication,
  finishAdminPasskeyRegistration,
  listAdminPasskeys,
  removeAdminPasskey,
  startAdminPasskeyAuthentication,
  startAdminPasskeyRegistration,
} from '../../server/admin/admin-passkeys';
export { acceptInvitation, choosePassword, deliverInvitation, ENROL_COOKIE_SECONDS, enrolmentSecret, inviteAdmin, openInvitation, reinviteAdmin } from '../../server/admin/invitations';
export { deliverResetCode, requestPasswordReset, resetPassword } from '../../server/admin/password-reset';
export { changePassword, changeRole, disableAdmin, enableAdmin, listTeam } from '../../server/admin/team';
export { ADMIN_REAUTH_MS, signedInRecently } from '../../server/admin/account';
export { deliverFactorResetNotice, resetAdminFactors } from '../../server/admin/factor-reset';
export { currentLogoVersion, MAX_LOGO_BYTES, sanitiseLogoSvg, saveOrganisationLogo } from '../../server/orgs/logo';
