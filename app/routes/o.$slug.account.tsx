import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData } from '@remix-run/react';
import { clearCookie, endAllPatientSessions, listPasskeys, listPatientSessions, redirectTo, requirePatient, sessionCookieName } from '../services/all.server';
import { formatShortDateTime, metaT, useT, type UiKey } from '../i18n';
import { pageT } from '../services/all.server';
import { patientPreferencesOf } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('account.metaTitle') }];

const METHOD_LABELS: Record<string, UiKey> = {
  code_email: 'account.method.code_email',
  code_sms: 'account.method.code_sms',
  code_dob: 'account.method.code_dob',
  passkey: 'account.method.passkey',
};

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, session, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const sessions = await listPatientSessions(context.db, org.id, patient.id, session.idHash, now);
  const passkeyCount = (await listPasskeys({ db: context.db, orgId: org.id, patientId: patient.id })).length;
  const { locale, t } = pageT(request, context);
  const prefs = await patientPreferencesOf(context.db, org.id, patient.id);
  const method = METHOD_LABELS[session.verificationMethod];
  return {
    displayName: patient.displayName,
    slug: org.slug,
    passkeyCount,
    orgName: org.name,
    verifiedWith: method ? t(method) : session.verificationMethod,
    // In the patient's time zone and language (issue 9), formatted here so the page and hydration agree.
    sessions: sessions.map((s) => ({
      ...s,
      createdAt: formatShortDateTime(s.createdAt, locale, prefs.timeZone),
      lastSeenAt: formatShortDateTime(s.lastSeenAt, locale, prefs.timeZone),
    })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const form = await request.formData();
  if (form.get('intent') !== 'sign_out_everywhere') return data({ error: pageT(request, context).t('common.unknownAction') }, { status: 400 });
  await context.db.transaction((tx) => endAllPatientSessions(tx, org.id, patient.id, now));
  throw redirectTo(`/o/${org.slug}/signed-out`, {
    'Set-Cookie': clearCookie(sessionCookieName(context.identity.cookies), context.identity.cookies),
    'Clear-Site-Data': '"cache", "cookies", "storage"',
  });
}

export default function Account() {
  const { displayName, verifiedWith, sessions, slug, passkeyCount } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('account.title', { name: displayName })}</h1>
      <p>{t('account.verified', { method: verifiedWith })}</p>
      <section className="card" aria-labelledby="passkeys-heading">
        <h2 id="passkeys-heading">{t('account.passkeys')}</h2>
        {passkeyCount === 0 ? (
          <>
            <p>{t('account.passkeyPitch')}</p>
            <Link className="button" to={`/o/${slug}/passkeys/new`}>
              {t('account.addPasskey')}
            </Link>
          </>
        ) : (
          <p>
            {`${t('account.passkeyCount', { count: passkeyCount })} `}
            <Link to={`/o/${slug}/passkeys`}>{t('account.managePasskeys')}</Link>
          </p>
        )}
      </section>
      <section className="card" aria-labelledby="contacts-heading">
        <h2 id="contacts-heading">{t('account.contacts')}</h2>
        <p>
          {`${t('account.contactsBody')} `}
          <Link to={`/o/${slug}/contacts`}>{t('account.manageContacts')}</Link>
        </p>
      </section>
      <section className="card" aria-labelledby="encryption-heading">
        <h2 id="encryption-heading">{t('account.encryption')}</h2>
        <p>
          {`${t('account.encryptionBody')} `}
          <Link to={`/o/${slug}/encryption`}>{t('account.setUpEncryption')}</Link>
        </p>
      </section>
      <section className="card" aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">{t('account.sessions')}</h2>
        <ul className="session-list">
          {sessions.map((s, i) => (
            <li key={i}>
              <strong>{s.device}</strong>
              {s.current ? ` ${t('account.thisBrowser')}` : ''}
              <br />
              <span className="muted">{t('account.sessionTimes', { signedIn: s.createdAt, lastActive: s.lastSeenAt })}</span>
            </li>
          ))}
        </ul>
        <Form method="post">
          <input type="hidden" name="intent" value="sign_out_everywhere" />
          <button className="button button--secondary" type="submit">
            {t('account.signOutEverywhere')}
          </button>
        </Form>
      </section>
    </main>
  );
}
