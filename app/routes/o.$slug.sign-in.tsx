import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { PasskeySignIn } from '../components/passkey-sign-in';
import { Field, FormError } from '../components/field';
import {
  attemptCookieName,
  CODE_TTL_MS,
  deliverCode,
  normaliseContact,
  optionalPatient,
  redirectTo,
  requestCode,
  requireOrganisation,
  encodeReturnTo,
  returnCookieName,
  safeReturnTo,
  serializeCookie,
} from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Sign in · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const signedIn = await optionalPatient({ request, db: context.db, cookies: context.identity.cookies, org, now: new Date() });
  // A page that needs sign-in (a preference or renewal link asking to widen a choice) names where to come back to.
  const asked = new URL(request.url).searchParams.get('returnTo');
  const returnTo = asked ? safeReturnTo(org.slug, asked) : undefined;
  if (signedIn) throw redirectTo(returnTo ?? `/o/${org.slug}/account`);
  const payload = { orgName: org.name, slug: org.slug };
  if (!returnTo || returnTo !== asked) return payload;
  const cookies = context.identity.cookies;
  return data(payload, { headers: { 'Set-Cookie': serializeCookie(returnCookieName(cookies), encodeReturnTo(returnTo), cookies, 600) } });
}

type ActionErrors = { contact?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const form = await request.formData();
  const raw = String(form.get('contact') ?? '');
  const contact = normaliseContact(raw);
  if (!contact) {
    return data<{ errors: ActionErrors }>(
      { errors: { contact: 'Enter an email address, or a mobile number with its country code, for example +1 555 555 0101.' } },
      { status: 400 },
    );
  }
  const result = await requestCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    contact,
    ipAddress: context.clientIp,
    now: new Date(),
  });
  if (result.status === 'rate_limited') {
    const minutes = Math.ceil(result.retryAfterSeconds / 60);
    return data<{ errors: ActionErrors }>(
      { errors: { form: `Too many codes have been asked for. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` } },
      { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
    );
  }
  // EN1: the same answer whether or not the contact point is on record; the code is sent after answering.
  const delivery = result.delivery;
  if (delivery) setImmediate(() => void deliverCode(context.transports, org.name, delivery));
  throw redirectTo(`/o/${org.slug}/sign-in/code`, {
    'Set-Cookie': serializeCookie(attemptCookieName(context.identity.cookies), result.attemptToken, context.identity.cookies, CODE_TTL_MS / 1000),
  });
}

export default function SignIn() {
  const { slug } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: ActionErrors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Sign in</h1>
      <p>We will send you a one-time code. Use the email address or mobile number your provider has on record for you.</p>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field
          id="contact"
          label="Email address or mobile number"
          hint="For a mobile number, include the country code, for example +1 555 555 0101."
          error={errors.contact}
          type="text"
          inputMode="email"
          autoComplete="username webauthn"
          autoCapitalize="none"
          spellCheck={false}
          required
        />
        <button className="button" type="submit" disabled={busy}>
          Send me a code
        </button>
      </Form>
      <PasskeySignIn slug={slug} contactInputId="contact" />
    </main>
  );
}
