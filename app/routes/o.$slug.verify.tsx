import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { ChooseContactForm, EnterCodeForm } from '../components/code-confirmation';
import { FormError } from '../components/field';
import { PasskeySignIn } from '../components/passkey-sign-in';
import { confirmCode, contactChoices, sendCodeToContact } from '../services/all.server';
import {
  encodeReturnTo,
  returnCookieName,
  requirePatient,
  safeReturnTo,
  serializeCookie,
  signedInRedirect,
} from '../services/all.server';
import { metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// SE5 step-up: prove it is still you before a sensitive change. A new session id comes out of it (SE1).
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('verify.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const search = new URL(request.url).searchParams;
  const returnTo = safeReturnTo(org.slug, search.get('returnTo'));
  const contacts = await contactChoices(context, org.id, patient.id, pageT(request, context).t);
  const payload = {
    slug: org.slug,
    orgName: org.name,
    withDateOfBirth: search.get('level') === 'code_dob',
    // OT5: a code cannot meet a passkey policy. The passkey sign-in comes back here through the return cookie.
    usePasskey: search.get('level') === 'passkey',
    returnTo,
    contacts,
  };
  if (!payload.usePasskey) return payload;
  return data(payload, { headers: { 'Set-Cookie': serializeCookie(returnCookieName(context.identity.cookies), encodeReturnTo(returnTo), context.identity.cookies, 600) } });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const cookies = context.identity.cookies;
  const { org, patient } = await requirePatient({ request, db: context.db, cookies, slug: params.slug, now });
  const form = await request.formData();
  const returnTo = safeReturnTo(org.slug, String(form.get('returnTo') ?? ''));
  if (form.get('intent') === 'send') return sendCodeToContact(context, { org, patientId: patient.id, contactId: form.get('contactId'), purpose: 'step_up', now, request });
  const checked = await confirmCode(context, request, form, {
    org,
    patientId: patient.id,
    withDateOfBirth: form.get('level') === 'code_dob',
    purpose: 'step_up',
    otherPatient: pageT(request, context).t('verify.otherPatient'),
    now,
  });
  if (!checked.verified) return checked.answer;
  throw await signedInRedirect({ db: context.db, request, cookies, orgId: org.id, patientId: patient.id, method: checked.method, location: returnTo, now });
}

export default function Verify() {
  const { returnTo, contacts, withDateOfBirth, usePasskey, slug, orgName } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const errors = result?.errors ?? {};
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('verify.title')}</h1>
      <p>{usePasskey ? t('verify.passkey', { org: orgName }) : withDateOfBirth ? t('verify.dob', { org: orgName }) : t('verify.code')}</p>
      <FormError message={errors.form} />
      {usePasskey ? (
        <>
          <PasskeySignIn slug={slug} contactInputId="none" />
          <p>
            {`${t('verify.noPasskey')} `}
            <Link to={`/o/${slug}/passkeys`}>{t('verify.passkeysPage')}</Link>
            {` ${t('verify.thenBack')}`}
          </p>
        </>
      ) : result?.stage === 'sent' ? (
        <EnterCodeForm withDateOfBirth={withDateOfBirth} errors={errors} hidden={{ returnTo }} busy={busy} submitLabel={t('verify.confirm')} />
      ) : (
        <ChooseContactForm contacts={contacts} errors={errors} hidden={{ returnTo }} />
      )}
    </main>
  );
}
