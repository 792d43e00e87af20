// What an admin may do on their own account page, and when it needs a fresh sign-in.

/** Adding a passkey gives a new way in, so it needs a sign-in within the last 15 minutes (like SE5 for patients). */
export const ADMIN_REAUTH_MS = 15 * 60 * 1000;

export function signedInRecently(verifiedAt: Date, now: Date): boolean {
  return now.getTime() - verifiedAt.getTime() <= ADMIN_REAUTH_MS;
}
