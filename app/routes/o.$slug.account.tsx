import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData } from '@remix-run/react';
import { clearCookie, endAllPatientSessions, listPasskeys, listPatientSessions, redirectTo, requirePatient, sessionCookieName } from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Your account · Carepost' }];

const METHOD_LABELS: Record<string, string> = {
  code_email: 'a code sent by email',
  code_sms: 'a code sent by text message',
  code_dob: 'a code and your date of birth',
  passkey: 'a passkey',
};

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, session, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const sessions = await listPatientSessions(context.db, org.id, patient.id, session.idHash, now);
  const passkeyCount = (await listPasskeys({ db: context.db, orgId: org.id, patientId: patient.id })).length;
  return {
    displayName: patient.displayName,
    slug: org.slug,
    passkeyCount,
    orgName: org.name,
    verifiedWith: METHOD_LABELS[session.verificationMethod] ?? session.verificationMethod,
    sessions: sessions.map((s) => ({ ...s, createdAt: s.createdAt.toISOString(), lastSeenAt: s.lastSeenAt.toISOString() })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const form = await request.formData();
  if (form.get('intent') !== 'sign_out_everywhere') return data({ error: 'Unknown action.' }, { status: 400 });
  await context.db.transaction((tx) => endAllPatientSessions(tx, org.id, patient.id, now));
  throw redirectTo(`/o/${org.slug}/signed-out`, {
    'Set-Cookie': clearCookie(sessionCookieName(context.identity.cookies), context.identity.cookies),
    'Clear-Site-Data': '"cache", "cookies", "storage"',
  });
}

function formatTime(iso: string) {
  return new Date(iso).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
}

export default function Account() {
  const { displayName, verifiedWith, sessions, slug, passkeyCount } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Signed in as {displayName}</h1>
      <p>You proved who you are with {verifiedWith}.</p>
      <section className="card" aria-labelledby="passkeys-heading">
        <h2 id="passkeys-heading">Passkeys</h2>
        {passkeyCount === 0 ? (
          <>
            <p>Sign in faster and more safely next time: add a passkey, and use your device&apos;s screen lock instead of a code.</p>
            <Link className="button" to={`/o/${slug}/passkeys/new`}>
              Add a passkey
            </Link>
          </>
        ) : (
          <p>
            You have {passkeyCount} passkey{passkeyCount === 1 ? '' : 's'}. <Link to={`/o/${slug}/passkeys`}>Manage your passkeys</Link>
          </p>
        )}
      </section>
      <section className="card" aria-labelledby="contacts-heading">
        <h2 id="contacts-heading">Contact details</h2>
        <p>
          The email addresses and mobile numbers we use to reach you. <Link to={`/o/${slug}/contacts`}>Manage your contact details</Link>
        </p>
      </section>
      <section className="card" aria-labelledby="encryption-heading">
        <h2 id="encryption-heading">Encrypted email</h2>
        <p>
          If you use OpenPGP, add your public key and we will send your messages encrypted to it. <Link to={`/o/${slug}/encryption`}>Set up encrypted email</Link>
        </p>
      </section>
      <section className="card" aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Where you are signed in</h2>
        <ul className="session-list">
          {sessions.map((s, i) => (
            <li key={i}>
              <strong>{s.device}</strong>
              {s.current ? ' (this browser)' : ''}
              <br />
              <span className="muted">
                Signed in {formatTime(s.createdAt)}, last active {formatTime(s.lastSeenAt)}
              </span>
            </li>
          ))}
        </ul>
        <Form method="post">
          <input type="hidden" name="intent" value="sign_out_everywhere" />
          <button className="button button--secondary" type="submit">
            Sign out everywhere
          </button>
        </Form>
      </section>
    </main>
  );
}
