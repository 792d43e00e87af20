// Browser side of passkeys: asks our server for options, lets the browser talk to the authenticator, sends the
// answer back. Errors come back as sentences for the patient.
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration, WebAuthnAbortService } from '@simplewebauthn/browser';

export { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, WebAuthnAbortService };

type Answer = { location?: string; error?: string; field?: string; options?: unknown; cancelled?: boolean };

async function post(url: string, body: unknown): Promise<{ status: number; answer: Answer }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
  const answer = (await res.json().catch(() => ({ error: 'Something went wrong on our side. Please try again.' }))) as Answer;
  return { status: res.status, answer };
}

function browserError(error: unknown, otherWay = 'sign in with a code'): string {
  const name = (error as { name?: string }).name;
  if (name === 'NotAllowedError' || name === 'AbortError') return 'The passkey request was cancelled or timed out, or no passkey for this site was found on this device.';
  if (name === 'InvalidStateError') return 'This device already has a passkey for your account.';
  return `Your browser could not use a passkey. Try again, or ${otherWay}.`;
}

/**
 * `autofill`: a conditional request, answered when the patient picks a passkey in the address field's suggestions.
 * It waits quietly; starting any other passkey request cancels it, and a cancelled one says nothing.
 */
export async function signInWithPasskey(slug: string, contact: string | undefined, options: { autofill?: boolean } = {}): Promise<Answer> {
  return authenticateAt(`/o/${slug}/sign-in/passkey`, { contact: contact || undefined }, options);
}

export async function addPasskey(slug: string, name: string): Promise<Answer> {
  return registerAt(`/o/${slug}/passkeys/register`, { name });
}

/** The sign-in ceremony against an endpoint that answers {intent: 'options', ...extra} and {intent: 'finish', response}. */
export async function authenticateAt(url: string, extra: Record<string, unknown>, options: { autofill?: boolean; otherWay?: string } = {}): Promise<Answer> {
  const first = await post(url, { intent: 'options', ...extra });
  if (!first.answer.options) return first.answer;
  let response;
  try {
    response = await startAuthentication({
      optionsJSON: first.answer.options as Parameters<typeof startAuthentication>[0]['optionsJSON'],
      useBrowserAutofill: options.autofill ?? false,
    });
  } catch (error) {
    if (options.autofill) return { cancelled: true };
    return { error: browserError(error, options.otherWay) };
  }
  return (await post(url, { intent: 'finish', ...extra, response })).answer;
}

/** The registration ceremony against an endpoint that answers {intent: 'options'} and {intent: 'finish', ...extra, response}. */
export async function registerAt(url: string, extra: Record<string, unknown>, options: { otherWay?: string } = {}): Promise<Answer> {
  const first = await post(url, { intent: 'options' });
  if (!first.answer.options) return first.answer;
  let response;
  try {
    response = await startRegistration({ optionsJSON: first.answer.options as Parameters<typeof startRegistration>[0]['optionsJSON'] });
  } catch (error) {
    return { error: browserError(error, options.otherWay) };
  }
  return (await post(url, { intent: 'finish', ...extra, response })).answer;
}
