import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import {
  attemptCookieName,
  CODE_TTL_MS,
  deliverCode,
  maskContact,
  readCookie,
  requestCode,
  requirePatient,
  safeReturnTo,
  serializeCookie,
  signedInRedirect,
  verifiedContactsOf,
  verifyCode,
} from '../services/identity.server';
import { codeFailure } from '../utils/code-errors';

// SE5 step-up: prove it is still you before a sensitive change. A new session id comes out of it (SE1).
export const meta: MetaFunction = () => [{ title: 'Confirm it is you · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const search = new URL(request.url).searchParams;
  const returnTo = safeReturnTo(org.slug, search.get('returnTo'));
  const contacts = await verifiedContactsOf(context.db, org.id, patient.id);
  return {
    withDateOfBirth: search.get('level') === 'code_dob', returnTo, contacts: contacts.map((c) => ({ id: c.id, label: `${c.kind === 'email' ? 'Email' : 'Text message'} to ${maskContact(c)}` })) };
}

type ActionResult = { stage: 'sent' | 'choose'; errors: { code?: string; form?: string; contactId?: string; dateOfBirth?: string } };

/** Day, month and year fields to YYYY-MM-DD, or undefined when they do not make a real date. */
function dateOfBirthFrom(form: FormData): string | undefined {
  const [day = NaN, month = NaN, year = NaN] = ['dobDay', 'dobMonth', 'dobYear'].map((k) => Number(String(form.get(k) ?? '').trim()));
  if (!Number.isInteger(day) || !Number.isInteger(month) || !Number.isInteger(year) || year < 1900 || year > 2100) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return undefined;
  return date.toISOString().slice(0, 10);
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const cookies = context.identity.cookies;
  const { org, patient } = await requirePatient({ request, db: context.db, cookies, slug: params.slug, now });
  const form = await request.formData();
  const returnTo = safeReturnTo(org.slug, String(form.get('returnTo') ?? ''));

  if (form.get('intent') === 'send') {
    const contacts = await verifiedContactsOf(context.db, org.id, patient.id);
    const chosen = contacts.find((c) => c.id === form.get('contactId'));
    if (!chosen) return data<ActionResult>({ stage: 'choose', errors: { contactId: 'Choose where to send the code.' } }, { status: 400 });
    const result = await requestCode({
      db: context.db,
      codeSecret: context.identity.codeSecret,
      orgId: org.id,
      contact: { kind: chosen.kind, value: chosen.value },
      ipAddress: context.clientIp,
      purpose: 'step_up',
      patientId: patient.id,
      now,
    });
    if (result.status === 'rate_limited') {
      return data<ActionResult>(
        { stage: 'choose', errors: { form: `Too many codes have been asked for. Please try again in ${Math.ceil(result.retryAfterSeconds / 60)} minutes.` } },
        { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
      );
    }
    const delivery = result.delivery;
    if (delivery) setImmediate(() => void deliverCode(context.transports, org.name, delivery));
    return data<ActionResult>(
      { stage: 'sent', errors: {} },
      { headers: { 'Set-Cookie': serializeCookie(attemptCookieName(cookies), result.attemptToken, cookies, CODE_TTL_MS / 1000) } },
    );
  }

  const code = String(form.get('code') ?? '').replace(/[\s-]/g, '');
  const withDateOfBirth = form.get('level') === 'code_dob';
  const dateOfBirth = withDateOfBirth ? dateOfBirthFrom(form) : undefined;
  const inputErrors = {
    code: /^\d{6}$/.test(code) ? undefined : 'Enter the 6-digit code we sent you.',
    dateOfBirth: withDateOfBirth && !dateOfBirth ? 'Enter your date of birth as day, month and year, for example 27 3 1984.' : undefined,
  };
  if (inputErrors.code || inputErrors.dateOfBirth) return data<ActionResult>({ stage: 'sent', errors: inputErrors }, { status: 400 });
  const result = await verifyCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    attemptToken: readCookie(request, attemptCookieName(cookies)),
    code,
    purpose: 'step_up',
    dateOfBirth,
    now,
  });
  if (result.status === 'verified' && result.patientId === patient.id) {
    throw await signedInRedirect({ db: context.db, request, cookies, orgId: org.id, patientId: patient.id, method: result.method, location: returnTo, now });
  }
  const failure = result.status === 'verified' ? { status: 400, form: 'That code belongs to someone else.' } : codeFailure(result, org.name);
  const wrong = result.status === 'wrong' && withDateOfBirth ? `The code or the date of birth is not right. You can try ${result.triesLeft} more time${result.triesLeft === 1 ? '' : 's'}.` : undefined;
  return data<ActionResult>(
    { stage: 'sent', errors: { code: wrong ?? ('field' in failure ? failure.field : undefined), form: failure.form } },
    { status: failure.status },
  );
}

export default function Verify() {
  const { returnTo, contacts, withDateOfBirth } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const errors = result?.errors ?? {};
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Confirm it is you</h1>
      <p>For your security, we need to check it is still you before this change. We will send you a one-time code.</p>
      <FormError message={errors.form} />
      {result?.stage === 'sent' ? (
        <Form method="post" noValidate>
          <input type="hidden" name="returnTo" value={returnTo} />
          <input type="hidden" name="intent" value="verify" />
          {withDateOfBirth ? <input type="hidden" name="level" value="code_dob" /> : null}
          <p className="notice">We sent you a code. It works for 10 minutes, in this browser only.</p>
          <Field id="code" label="6-digit code" error={errors.code} className="code-input" type="text" inputMode="numeric" autoComplete="one-time-code" maxLength={12} required />
          {withDateOfBirth ? (
            <fieldset className="choices date-fields" aria-describedby={`dob-hint${errors.dateOfBirth ? ' dob-error' : ''}`}>
              <legend>Your date of birth</legend>
              <p id="dob-hint" className="field__hint">
                For example 27 3 1984
              </p>
              {errors.dateOfBirth ? (
                <p id="dob-error" className="field__error">
                  {errors.dateOfBirth}
                </p>
              ) : null}
              <div className="date-fields__row">
                <Field id="dobDay" label="Day" type="text" inputMode="numeric" autoComplete="bday-day" maxLength={2} aria-invalid={errors.dateOfBirth ? true : undefined} />
                <Field id="dobMonth" label="Month" type="text" inputMode="numeric" autoComplete="bday-month" maxLength={2} aria-invalid={errors.dateOfBirth ? true : undefined} />
                <Field id="dobYear" label="Year" type="text" inputMode="numeric" autoComplete="bday-year" maxLength={4} aria-invalid={errors.dateOfBirth ? true : undefined} />
              </div>
            </fieldset>
          ) : null}
          <button className="button" type="submit" disabled={busy}>
            Confirm
          </button>
        </Form>
      ) : (
        <Form method="post" noValidate>
          <input type="hidden" name="returnTo" value={returnTo} />
          <input type="hidden" name="intent" value="send" />
          <fieldset className="choices" aria-describedby={errors.contactId ? 'contactId-error' : undefined}>
            <legend>Where should we send the code?</legend>
            {errors.contactId ? (
              <p id="contactId-error" className="field__error">
                {errors.contactId}
              </p>
            ) : null}
            {contacts.map((c, i) => (
              <label key={c.id} className="choice">
                <input type="radio" name="contactId" value={c.id} defaultChecked={i === 0} /> {c.label}
              </label>
            ))}
          </fieldset>
          <button className="button" type="submit" disabled={busy}>
            Send me a code
          </button>
        </Form>
      )}
    </main>
  );
}
