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
  const returnTo = safeReturnTo(org.slug, new URL(request.url).searchParams.get('returnTo'));
  const contacts = await verifiedContactsOf(context.db, org.id, patient.id);
  return { returnTo, contacts: contacts.map((c) => ({ id: c.id, label: `${c.kind === 'email' ? 'Email' : 'Text message'} to ${maskContact(c)}` })) };
}

type ActionResult = { stage: 'sent' | 'choose'; errors: { code?: string; form?: string; contactId?: string } };

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
  if (!/^\d{6}$/.test(code)) return data<ActionResult>({ stage: 'sent', errors: { code: 'Enter the 6-digit code we sent you.' } }, { status: 400 });
  const result = await verifyCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    attemptToken: readCookie(request, attemptCookieName(cookies)),
    code,
    purpose: 'step_up',
    now,
  });
  if (result.status === 'verified' && result.patientId === patient.id) {
    throw await signedInRedirect({ db: context.db, request, cookies, orgId: org.id, patientId: patient.id, method: result.method, location: returnTo, now });
  }
  const failure = result.status === 'verified' ? { status: 400, form: 'That code belongs to someone else.' } : codeFailure(result, org.name);
  return data<ActionResult>({ stage: 'sent', errors: { code: 'field' in failure ? failure.field : undefined, form: failure.form } }, { status: failure.status });
}

export default function Verify() {
  const { returnTo, contacts } = useLoaderData<typeof loader>();
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
          <p className="notice">We sent you a code. It works for 10 minutes, in this browser only.</p>
          <Field id="code" label="6-digit code" error={errors.code} className="code-input" type="text" inputMode="numeric" autoComplete="one-time-code" maxLength={12} required />
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
