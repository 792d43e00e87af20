// Browser side of passkeys: asks our server for options, lets the browser talk to the authenticator, sends the
// answer back. Errors come back as sentences for the reader: the server's in the page's language, and the browser's
// from `words`, which the caller takes from the catalogue (patients) or passes in English (the admin console).
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration, WebAuthnAbortService } from '@simplewebauthn/browser';

export { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, WebAuthnAbortService };

type Answer = { location?: string; error?: string; field?: string; options?: unknown; cancelled?: boolean };

/** What the browser's own failures say: cancelled or timed out, a passkey already on this device, anything else, and a server answer that is not JSON. */
export type PasskeyWords = { cancelled: string; exists: string; failed: string; server: string };

async function post(url: string, body: unknown, words: PasskeyWords): Promise<{ status: number; answer: Answer }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
  const answer = (await res.json().catch(() => ({ error: words.server }))) as Answer;
  return { status: res.status, answer };
}

function browserError(error: unknown, words: PasskeyWords): string {
  const name = (error as { name?: string }).name;
  if (name === 'NotAllowedError' || name === 'AbortError') return words.cancelled;
  if (name === 'InvalidStateError') return words.exists;
  return words.failed;
}

/**
 * `autofill`: a conditional request, answered when the patient picks a passkey in the address field's suggestions.
 * It waits quietly; starting any other passkey request cancels it, and a cancelled one says nothing.
 */
export async function signInWithPasskey(slug: string, contact: string | undefined, words: PasskeyWords, options: { autofill?: boolean } = {}): Promise<Answer> {
  return authenticateAt(`/o/${slug}/sign-in/passkey`, { contact: contact || undefined }, words, options);
}

export async function addPasskey(slug: string, name: string, words: PasskeyWords): Promise<Answer> {
  return registerAt(`/o/${slug}/passkeys/register`, { name }, words);
}

/** The sign-in ceremony against an endpoint that answers {intent: 'options', ...extra} and {intent: 'finish', response}. */
export async function authenticateAt(url: string, extra: Record<string, unknown>, words: PasskeyWords, options: { autofill?: boolean } = {}): Promise<Answer> {
  const first = await post(url, { intent: 'options', ...extra }, words);
  if (!first.answer.options) return first.answer;
  let response;
  try {
    response = await startAuthentication({
      optionsJSON: first.answer.options as Parameters<typeof startAuthentication>[0]['optionsJSON'],
      useBrowserAutofill: options.autofill ?? false,
    });
  } catch (error) {
    if (options.autofill) return { cancelled: true };
    return { error: browserError(error, words) };
  }
  return (await post(url, { intent: 'finish', ...extra, response }, words)).answer;
}

/** The registration ceremony against an endpoint that answers {intent: 'options'} and {intent: 'finish', ...extra, response}. */
export async function registerAt(url: string, extra: Record<string, unknown>, words: PasskeyWords): Promise<Answer> {
  const first = await post(url, { intent: 'options' }, words);
  if (!first.answer.options) return first.answer;
  let response;
  try {
    response = await startRegistration({ optionsJSON: first.answer.options as Parameters<typeof startRegistration>[0]['optionsJSON'] });
  } catch (error) {
    return { error: browserError(error, words) };
  }
  return (await post(url, { intent: 'finish', ...extra, response }, words)).answer;
}
