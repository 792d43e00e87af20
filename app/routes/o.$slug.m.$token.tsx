import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { ChooseContactForm, EnterCodeForm } from '../components/code-confirmation';
import { FormError } from '../components/field';
import { PasskeySignIn } from '../components/passkey-sign-in';
import { openPatientLink } from '../services/all.server';
import { confirmCode, contactChoices, sendCodeToContact, type CodeStep } from '../services/all.server';
import {
  encodeReturnTo,
  optionalPatient,
  redirectTo,
  requireOrganisation,
  returnCookieName,
  serializeCookie,
  signedInRedirect,
} from '../services/all.server';
import { messageIdForDelivery } from '../services/all.server';
import { pageT } from '../services/all.server';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// The pickup link in a notice (issue 6, item 2): a signed token for one delivery and one patient (EN3). It is not a
// login: it names the message and asks for the verification the organisation's pickup policy requires (OT5), then
// opens that message. A GET never consumes or changes anything (mail scanners open links); codes are sent by POST.
// A visitor who is not signed in reads it in the language of their browser (Accept-Language) or the switcher's cookie.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('pickup.metaTitle') }, { name: 'robots', content: 'noindex' }];

type Opened =
  | { kind: 'invalid' | 'expired' }
  | { kind: 'ok'; patientId: string; messagePath: string };

async function openLink(args: LoaderFunctionArgs | ActionFunctionArgs, org: { id: string; slug: string }, now: Date): Promise<Opened> {
  const { params, context } = args;
  const opened = await openPatientLink(context.db, context.links.keyring, { purpose: 'pickup', orgId: org.id, token: params.token ?? '', now });
  if (!opened.ok) {
    context.logger.info({ reason: opened.reason }, 'pickup link refused');
    return { kind: opened.reason === 'expired' ? 'expired' : 'invalid' };
  }
  const { patientId, context: claims } = opened.claims;
  const messageId = await messageIdForDelivery(context.db, { orgId: org.id, patientId, deliveryId: String(claims?.deliveryId ?? '') });
  if (!messageId) return { kind: 'invalid' };
  return { kind: 'ok', patientId, messagePath: `/o/${org.slug}/messages/${messageId}` };
}

export async function loader(args: LoaderFunctionArgs) {
  const { request, params, context } = args;
  const now = new Date();
  const cookies = context.identity.cookies;
  const org = await requireOrganisation(context.db, params.slug);
  const opened = await openLink(args, org, now);
  const base = { slug: org.slug, orgName: org.name };
  if (opened.kind !== 'ok') return data({ ...base, state: opened.kind } as const, { status: opened.kind === 'expired' ? 410 : 404 });

  const signedIn = await optionalPatient({ request, db: context.db, cookies, org, now });
  // The message page asks for the pickup level itself, and sends a weaker session to confirm it is them.
  if (signedIn?.patient.id === opened.patientId) throw redirectTo(opened.messagePath);
  if (signedIn) return data({ ...base, state: 'someone_else' } as const, { status: 403 });

  const policy = org.pickupPolicy;
  const contacts = await contactChoices(context, org.id, opened.patientId, pageT(request, context).t);
  const payload = {
    ...base,
    state: 'confirm' as const,
    policy,
    contacts,
  };
  // A passkey sign-in (a fetch from this page) comes back to the message through the return cookie.
  return data(payload, { headers: { 'Set-Cookie': serializeCookie(returnCookieName(cookies), encodeReturnTo(opened.messagePath), cookies, 600) } });
}

export async function action(args: ActionFunctionArgs) {
  const { request, params, context } = args;
  const now = new Date();
  const cookies = context.identity.cookies;
  const org = await requireOrganisation(context.db, params.slug);
  const opened = await openLink(args, org, now);
  if (opened.kind !== 'ok') throw redirectTo(new URL(request.url).pathname);
  const policy = org.pickupPolicy;
  const { t } = pageT(request, context);
  if (policy === 'passkey') {
    return data<CodeStep>({ stage: 'choose', errors: { form: t('pickup.passkeyOnly', { org: org.name }) } }, { status: 400 });
  }
  const form = await request.formData();
  if (form.get('intent') === 'send') return sendCodeToContact(context, { org, patientId: opened.patientId, contactId: form.get('contactId'), purpose: 'sign_in', now, request });
  const checked = await confirmCode(context, request, form, {
    org,
    patientId: opened.patientId,
    withDateOfBirth: policy === 'code_dob',
    purpose: 'sign_in',
    otherPatient: t('pickup.otherPatient'),
    now,
  });
  if (!checked.verified) return checked.answer;
  throw await signedInRedirect({ db: context.db, request, cookies, orgId: org.id, patientId: opened.patientId, method: checked.method, location: opened.messagePath, now });
}

export default function Pickup() {
  const page = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  const signIn = `/o/${page.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${page.slug}/messages`)}`;

  if (page.state !== 'confirm') return <NotForYou page={page} signIn={signIn} />;
  const loaded = page as Extract<typeof page, { state: 'confirm' }>;
  const errors = result?.errors ?? {};
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('pickup.title', { org: loaded.orgName })}</h1>
      {loaded.policy === 'passkey' ? (
        <>
          <p>{t('pickup.passkeyIntro', { org: loaded.orgName })}</p>
          <FormError message={errors.form} />
          <PasskeySignIn slug={loaded.slug} contactInputId="none" />
          <p>
            {`${t('pickup.noPasskey')} `}
            <Link to={`/o/${loaded.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${loaded.slug}/passkeys`)}`}>{t('pickup.signInWithCode')}</Link>
            {` ${t('pickup.noPasskeyEnd')}`}
          </p>
        </>
      ) : loaded.contacts.length === 0 ? (
        <p>{t('pickup.noContacts', { org: loaded.orgName })}</p>
      ) : (
        <>
          <p>{t(loaded.policy === 'code_dob' ? 'pickup.checkDob' : 'pickup.check', { org: loaded.orgName })}</p>
          <FormError message={errors.form} />
          {result?.stage === 'sent' ? (
            <EnterCodeForm withDateOfBirth={loaded.policy === 'code_dob'} errors={errors} hidden={{}} busy={busy} submitLabel={t('pickup.open')} />
          ) : (
            <ChooseContactForm contacts={loaded.contacts} errors={errors} hidden={{}} />
          )}
        </>
      )}
    </main>
  );
}

function NotForYou({ page, signIn }: { page: { state: string; slug: string; orgName: string }; signIn: string }) {
  const t = useT();
  if (page.state === 'someone_else') {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>{t('pickup.someoneElseTitle')}</h1>
        <p>{t('pickup.someoneElseBody')}</p>
        <Form method="post" action={`/o/${page.slug}/sign-out`}>
          <button className="button" type="submit">
            {t('layout.signOut')}
          </button>
        </Form>
      </main>
    );
  }
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{page.state === 'expired' ? t('pickup.expiredTitle') : t('link.broken.title')}</h1>
      <p>{page.state === 'expired' ? t('pickup.expiredBody', { org: page.orgName }) : t('pickup.invalidBody')}</p>
      <p>
        <Link className="button" to={signIn}>
          {t('pickup.signInToRead')}
        </Link>
      </p>
    </main>
  );
}
