// The server half of "confirm it is you with a code" (components/code-confirmation.tsx), shared by the step-up page
// and the pickup link: send a code to one of the patient's verified contact points, read the code (and the date of
// birth where OT5 asks for it), and say what went wrong in words.
import { data, type AppLoadContext } from '@remix-run/node';
import type { CodeErrors } from '../components/code-confirmation';
import { codeFailure } from '../utils/code-errors';
import { dateOfBirthFrom } from '../utils/date-of-birth';
import { attemptCookieName, CODE_TTL_MS, deliverCode, maskContact, readCookie, requestCode, serializeCookie, verifiedContactsOf, verifyCode } from './identity.server';
import type { Translate } from '../i18n';
import { chosenLocale, pageT } from './i18n.server';

/** The choices for "where should we send the code?", masked (the page may be open to whoever holds a link). */
export async function contactChoices(context: AppLoadContext, orgId: string, patientId: string, t: Translate) {
  const contacts = await verifiedContactsOf(context.db, orgId, patientId);
  return contacts.map((c) => ({ id: c.id, label: t(c.kind === 'email' ? 'codeForm.toEmail' : 'codeForm.toSms', { contact: maskContact(c) }) }));
}

export type CodeStep = { stage: 'choose' | 'sent'; errors: CodeErrors & { form?: string } };

/** Sends a code to the chosen contact point of this patient; the answer moves the page to the code step. */
export async function sendCodeToContact(
  context: AppLoadContext,
  options: { org: { id: string; name: string }; patientId: string; contactId: FormDataEntryValue | null; purpose: 'sign_in' | 'step_up'; now: Date; request: Request },
) {
  const { t } = pageT(options.request, context);
  const cookies = context.identity.cookies;
  const contacts = await verifiedContactsOf(context.db, options.org.id, options.patientId);
  const chosen = contacts.find((c) => c.id === options.contactId);
  if (!chosen) return data<CodeStep>({ stage: 'choose', errors: { contactId: t('codeForm.chooseError') } }, { status: 400 });
  const result = await requestCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: options.org.id,
    contact: { kind: chosen.kind, value: chosen.value },
    ipAddress: context.clientIp,
    purpose: options.purpose,
    patientId: options.patientId,
    now: options.now,
  });
  if (result.status === 'rate_limited') {
    return data<CodeStep>(
      { stage: 'choose', errors: { form: t('signIn.rateLimited', { minutes: Math.ceil(result.retryAfterSeconds / 60) }) } },
      { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
    );
  }
  const delivery = result.delivery;
  const language = chosenLocale(options.request, context.identity.cookies);
  if (delivery) setImmediate(() => void deliverCode(context.transports, options.org.name, delivery, language));
  return data<CodeStep>({ stage: 'sent', errors: {} }, { headers: { 'Set-Cookie': serializeCookie(attemptCookieName(cookies), result.attemptToken, cookies, CODE_TTL_MS / 1000) } });
}

/**
 * Checks the typed code (and date of birth) against this browser's attempt. Verified for `patientId`: the result, for
 * the caller to sign in. Anything else: the answer to send back, with the errors in words.
 */
export async function confirmCode(
  context: AppLoadContext,
  request: Request,
  form: FormData,
  options: { org: { id: string; name: string }; patientId: string; withDateOfBirth: boolean; purpose: 'sign_in' | 'step_up'; otherPatient: string; now: Date },
) {
  const { t } = pageT(request, context);
  const code = String(form.get('code') ?? '').replace(/[\s-]/g, '');
  const dateOfBirth = options.withDateOfBirth ? dateOfBirthFrom(form) : undefined;
  const inputErrors = {
    code: /^\d{6}$/.test(code) ? undefined : t('codeForm.formatError'),
    dateOfBirth: options.withDateOfBirth && !dateOfBirth ? t('codeForm.dobError') : undefined,
  };
  if (inputErrors.code || inputErrors.dateOfBirth) return { verified: false as const, answer: data<CodeStep>({ stage: 'sent', errors: inputErrors }, { status: 400 }) };
  const result = await verifyCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: options.org.id,
    attemptToken: readCookie(request, attemptCookieName(context.identity.cookies)),
    code,
    purpose: options.purpose,
    dateOfBirth,
    now: options.now,
  });
  if (result.status === 'verified' && result.patientId === options.patientId) return { verified: true as const, method: result.method };
  const failure = result.status === 'verified' ? { status: 400, form: options.otherPatient } : codeFailure(result, options.org.name, t);
  const wrong =
    result.status === 'wrong' && options.withDateOfBirth ? t('codeForm.wrongWithDob', { tries: result.triesLeft }) : undefined;
  return {
    verified: false as const,
    answer: data<CodeStep>({ stage: 'sent', errors: { code: wrong ?? ('field' in failure ? failure.field : undefined), form: failure.form } }, { status: failure.status }),
  };
}
