// Where a patient may be sent back to after signing in or stepping up: only a path inside this organisation's pages.
/** Never another site, never a path with tricks in it; otherwise the account page. */
export function safeReturnTo(slug: string, value: string | null | undefined): string {
  const fallback = `/o/${slug}/account`;
  if (!value || !value.startsWith(`/o/${slug}/`) || value.includes('//') || value.includes('\\')) return fallback;
  return /^\/[A-Za-z0-9/_.-]*$/.test(value) ? value : fallback;
}


/** The return path as a cookie value (readCookie accepts base64url only). */
export function encodeReturnTo(path: string): string {
  return Buffer.from(path, 'utf8').toString('base64url');
}

export function decodeReturnTo(slug: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  const path = Buffer.from(value, 'base64url').toString('utf8');
  const safe = safeReturnTo(slug, path);
  return safe === path ? path : undefined;
}
