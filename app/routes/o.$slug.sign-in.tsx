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
} from '../services/all.server';
import { metaT, useT } from '../i18n';
import { chosenLocale, pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('signIn.metaTitle') }];

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
  const { t } = pageT(request, context);
  const raw = String(form.get('contact') ?? '');
  const contact = normaliseContact(raw);
  if (!contact) {
    return data<{ errors: ActionErrors }>({ errors: { contact: t('signIn.contactError') } }, { status: 400 });
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
      { errors: { form: t('signIn.rateLimited', { minutes }) } },
      { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
    );
  }
  // EN1: the same answer whether or not the contact point is on record; the code is sent after answering.
  const delivery = result.delivery;
  // The code is written in the language chosen on this browser, else the patient's stored one (issue 9).
  const chosen = chosenLocale(request, context.identity.cookies);
  if (delivery) setImmediate(() => void deliverCode(context.transports, org.name, delivery, chosen));
  throw redirectTo(`/o/${org.slug}/sign-in/code`, {
    'Set-Cookie': serializeCookie(attemptCookieName(context.identity.cookies), result.attemptToken, context.identity.cookies, CODE_TTL_MS / 1000),
  });
}

export default function SignIn() {
  const { slug } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: ActionErrors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('common.signIn')}</h1>
      <p>{t('signIn.intro')}</p>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field
          id="contact"
          label={t('signIn.contactLabel')}
          hint={t('signIn.contactHint')}
          error={errors.contact}
          type="text"
          inputMode="email"
          autoComplete="username webauthn"
          autoCapitalize="none"
          spellCheck={false}
          required
        />
        <button className="button" type="submit" disabled={busy}>
          {t('signIn.send')}
        </button>
      </Form>
      <PasskeySignIn slug={slug} contactInputId="contact" />
    </main>
  );
}
