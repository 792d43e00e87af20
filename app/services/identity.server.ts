export { normaliseContact } from '../../server/identity/contact';
export { deliverCode } from '../../server/identity/code-delivery';
export { attemptCookieName, clearCookie, readCookie, serializeCookie, sessionCookieName } from '../../server/identity/cookies';
export { optionalPatient, redirectTo, requireOrganisation, requirePatient } from '../../server/identity/guards';
export { createPatientSession, endAllPatientSessions, endPatientSession, listPatientSessions } from '../../server/identity/sessions';
export { requestCode, verifyCode } from '../../server/identity/sign-in';
export { CODE_TTL_MS } from '../../server/identity/codes';
