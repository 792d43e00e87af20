// Admin cookies besides the session (server/identity/cookies.ts has that one): each short-lived state of a sign-in
// flow has its own cookie, holding only a random value whose hash is on the server (STYLE.md). SE4 attributes.
import type { CookieSettings } from '../identity/cookies';

const named = (base: string) => (settings: CookieSettings) => (settings.secure ? `__Host-${base}` : base);

/** Password accepted, second factor still to come (5 minutes). */
export const adminAttemptCookieName = named('carepost_admin_attempt');
/** An invitation's chosen password, waiting for the authenticator app to be confirmed (1 hour). */
export const adminEnrolCookieName = named('carepost_admin_enrol');
/** Which server-side WebAuthn challenge this browser answers (5 minutes). */
export const adminWebauthnCookieName = named('carepost_admin_webauthn');
/** A password-reset code was asked for in this browser (10 minutes). */
export const adminResetCookieName = named('carepost_admin_reset');
