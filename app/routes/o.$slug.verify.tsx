import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { ChooseContactForm, EnterCodeForm } from '../components/code-confirmation';
import { FormError } from '../components/field';
import { PasskeySignIn } from '../components/passkey-sign-in';
import {
  attemptCookieName,
  CODE_TTL_MS,
  deliverCode,
  encodeReturnTo,
  maskContact,
  readCookie,
  requestCode,
  returnCookieName,
  requirePatient,
  safeReturnTo,
  serializeCookie,
  signedInRedirect,
  verifiedContactsOf,
  verifyCode,
} from '../services/identity.server';
import { codeFailure } from '../utils/code-errors';
import { DATE_OF_BIRTH_ERROR, dateOfBirthFrom } from '../utils/date-of-birth';

// SE5 step-up: prove it is still you before a sensitive change. A new session id comes out of it (SE1).
export const meta: MetaFunction = () => [{ title: 'Confirm it is you · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const search = new URL(request.url).searchParams;
  const returnTo = safeReturnTo(org.slug, search.get('returnTo'));
  const contacts = await verifiedContactsOf(context.db, org.id, patient.id);
  const payload = {
    slug: org.slug,
    orgName: org.name,
    withDateOfBirth: search.get('level') === 'code_dob',
    // OT5: a code cannot meet a passkey policy. The passkey sign-in comes back here through the return cookie.
    usePasskey: search.get('level') === 'passkey',
    returnTo,
    contacts: contacts.map((c) => ({ id: c.id, label: `${c.kind === 'email' ? 'Email' : 'Text message'} to ${maskContact(c)}` })),
  };
  if (!payload.usePasskey) return payload;
  return data(payload, { headers: { 'Set-Cookie': serializeCookie(returnCookieName(context.identity.cookies), encodeReturnTo(returnTo), context.identity.cookies, 600) } });
}

type ActionResult = { stage: 'sent' | 'choose'; errors: { code?: string; form?: string; contactId?: string; dateOfBirth?: string } };

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
    dateOfBirth: withDateOfBirth && !dateOfBirth ? DATE_OF_BIRTH_ERROR : undefined,
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
  const { returnTo, contacts, withDateOfBirth, usePasskey, slug, orgName } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const errors = result?.errors ?? {};
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Confirm it is you</h1>
      <p>
        {usePasskey
          ? `For your security, ${orgName} asks for a passkey before you read your messages. Use a passkey you added on this or another device.`
          : withDateOfBirth
            ? `For your security, ${orgName} asks for a one-time code and your date of birth before you read your messages.`
            : 'For your security, we need to check it is still you before this change. We will send you a one-time code.'}
      </p>
      <FormError message={errors.form} />
      {usePasskey ? (
        <>
          <PasskeySignIn slug={slug} contactInputId="none" />
          <p>
            No passkey yet? Add one on <Link to={`/o/${slug}/passkeys`}>your passkeys page</Link>, then come back to your messages.
          </p>
        </>
      ) : result?.stage === 'sent' ? (
        <EnterCodeForm withDateOfBirth={withDateOfBirth} errors={errors} hidden={{ returnTo }} busy={busy} submitLabel="Confirm" />
      ) : (
        <ChooseContactForm contacts={contacts} errors={errors} hidden={{ returnTo }} />
      )}
    </main>
  );
}
