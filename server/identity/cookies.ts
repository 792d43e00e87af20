// Cookie names and attributes in one place (SE4): __Host- prefixed and Secure in production, HttpOnly, SameSite=Lax.
export type CookieSettings = { secure: boolean };

export function sessionCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_session' : 'carepost_session';
}

export function attemptCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_attempt' : 'carepost_attempt';
}

/** Which server-side WebAuthn challenge this browser is answering (the challenge itself never leaves the server). */
export function webauthnCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_webauthn' : 'carepost_webauthn';
}

/** Where to go after signing in, when sign-in was asked for by a page (a preference or renewal link): 10 minutes. */
export function returnCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_return' : 'carepost_return';
}

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      return /^[A-Za-z0-9_-]{1,200}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** `maxAgeSeconds` undefined: a browser-session cookie, gone when the browser closes; the server enforces timeouts. */
export function serializeCookie(name: string, value: string, settings: CookieSettings, maxAgeSeconds?: number): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (settings.secure) parts.push('Secure');
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  return parts.join('; ');
}

export function clearCookie(name: string, settings: CookieSettings): string {
  return serializeCookie(name, '', settings, 0);
}

/** Admin sessions use their own cookie, so a patient session and an admin session in one browser never mix. */
export function adminSessionCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_admin' : 'carepost_admin';
}
