export { normaliseContact } from '../../server/identity/contact';
export { deliverCode } from '../../server/identity/code-delivery';
export { attemptCookieName, clearCookie, readCookie, serializeCookie, sessionCookieName } from '../../server/identity/cookies';
export { optionalPatient, redirectTo, requireOrganisation, requirePatient, signedInRedirect } from '../../server/identity/guards';
export { createPatientSession, endAllPatientSessions, endPatientSession, listPatientSessions } from '../../server/identity/sessions';
export { requestCode, verifyCode } from '../../server/identity/sign-in';
export { CODE_TTL_MS } from '../../server/identity/codes';
export { requireRecentVerification, safeReturnTo, STEP_UP_MAX_AGE_MS, verifiedWithin } from '../../server/identity/assurance';
export { verifiedContactsOf } from '../../server/identity/guards';
export { maskContact } from '../../server/identity/contact';
export { webauthnCookieName } from '../../server/identity/cookies';
export { json, passkeySignInOptions, redirectAsJson } from '../../server/identity/passkey-flows';
export {
  finishPasskeyAuthentication,
  finishPasskeyRegistration,
  listPasskeys,
  removePasskey,
  renamePasskey,
  startPasskeyRegistration,
} from '../../server/identity/passkeys';
export {
  CONTACT_CONFIRM_MAX_AGE_MS,
  confirmContactVerification,
  deliverContactChangeNotices,
  deliverContactVerificationCode,
  getContactPointForPatient,
  listContactPoints,
  parseNewContact,
  removeContactPoint,
  requestContactVerification,
} from '../../server/identity/contact-change';
export { notFound } from '../../server/identity/guards';
export { returnCookieName } from '../../server/identity/cookies';
export { encodeReturnTo } from '../../server/identity/return-to';
