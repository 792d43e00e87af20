import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { FormError } from '../components/field';
import { redirectTo, requirePatient, requireRecentVerification, verifiedWithin } from '../services/identity.server';
import { formatFingerprint, getPatientPgpKey, PGP_KEY_MAX_BYTES, removePatientPgpKey, savePatientPgpKey } from '../services/pgp.server';

// A patient's OpenPGP public key: when there is one, the send engine encrypts their email to it (PGP/MIME);
// without one, email carries only a notice. Changing it changes where health information goes, so it needs a
// recent verification (SE5), like a contact point.
export const meta: MetaFunction = () => [{ title: 'Encrypted email · Carepost' }];

type ActionResult = { errors: { publicKey?: string; form?: string }; publicKey: string };

const DONE = ['added', 'replaced', 'removed'] as const;
type Done = (typeof DONE)[number];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient, session } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const key = await getPatientPgpKey(context.db, { orgId: org.id, patientId: patient.id });
  const done = new URL(request.url).searchParams.get('done');
  // The same test the action's requireRecentVerification applies, so the page can offer the step-up before the
  // patient pastes anything, instead of losing the paste to a redirect.
  const canChange = verifiedWithin(session, now);
  return {
    slug: org.slug,
    orgName: org.name,
    done: DONE.includes(done as Done) ? (done as Done) : null,
    canChange,
    verifyHref: `/o/${org.slug}/verify?${new URLSearchParams({ returnTo: `/o/${org.slug}/encryption` }).toString()}`,
    key: key
      ? {
          fingerprint: key.fingerprint,
          display: formatFingerprint(key.fingerprint),
          expiresAt: key.expiresAt?.toISOString() ?? null,
          expired: key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime(),
          addedAt: key.createdAt.toISOString(),
        }
      : null,
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requireRecentVerification({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    slug: params.slug,
    now,
    returnTo: `/o/${params.slug}/encryption`,
  });
  const form = await request.formData();
  const intent = form.get('intent');

  if (intent === 'save') {
    const pasted = String(form.get('publicKey') ?? '');
    if (!pasted.trim()) return data<ActionResult>({ errors: { publicKey: 'Paste your public key into the box.' }, publicKey: '' }, { status: 400 });
    const result = await savePatientPgpKey(context.db, { orgId: org.id, patientId: patient.id, armored: pasted, now });
    if (result.status === 'invalid') {
      // A private key is never sent back into the page, and nothing oversized either.
      const echo = result.error === 'private_key' || result.error === 'too_large' || pasted.length > PGP_KEY_MAX_BYTES ? '' : pasted;
      return data<ActionResult>({ errors: { publicKey: result.message }, publicKey: echo }, { status: 400 });
    }
    throw redirectTo(`/o/${org.slug}/encryption?done=${result.replaced ? 'replaced' : 'added'}`);
  }

  if (intent === 'remove') {
    const result = await removePatientPgpKey(context.db, { orgId: org.id, patientId: patient.id, fingerprint: String(form.get('fingerprint') ?? '') });
    if (result.status === 'not_found') {
      return data<ActionResult>({ errors: { form: 'That key was not found. It may have been changed in another window; here is the current one.' }, publicKey: '' }, { status: 404 });
    }
    throw redirectTo(`/o/${org.slug}/encryption?done=removed`);
  }

  return data<ActionResult>({ errors: { form: 'Unknown action.' }, publicKey: '' }, { status: 400 });
}

const day = (iso: string) => new Date(iso).toLocaleDateString('en-US', { dateStyle: 'long', timeZone: 'UTC' });

/** A labelled textarea whose error is tied to it (aria-describedby, aria-invalid) and announced, like Field. */
function KeyField({ error, defaultValue }: { error?: string; defaultValue: string }) {
  const described = ['publicKey-hint', error ? 'publicKey-error' : null].filter(Boolean).join(' ');
  return (
    <div className={`field${error ? ' field--error' : ''}`}>
      <label htmlFor="publicKey">Your public key</label>
      <p id="publicKey-hint" className="field__hint">
        Paste the whole block, from -----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY BLOCK-----. Share only your public key,
        never your private key.
      </p>
      {/* Always rendered, so a screen reader announces the error when it appears. */}
      <div role="alert">
        {error ? (
          <p id="publicKey-error" className="field__error">
            <span className="visually-hidden">Error: </span>
            {error}
          </p>
        ) : null}
      </div>
      <textarea
        id="publicKey"
        name="publicKey"
        className="key-input"
        rows={10}
        spellCheck={false}
        autoCapitalize="none"
        autoComplete="off"
        autoCorrect="off"
        aria-describedby={described}
        aria-invalid={error ? true : undefined}
        defaultValue={defaultValue}
        required
      />
    </div>
  );
}

export default function Encryption() {
  const { slug, orgName, done, canChange, verifyHref, key } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const doneMessages: Record<Done, string> = {
    added: `Saved. Email from ${orgName} to you will now be encrypted to this key.`,
    replaced: `Replaced. Email from ${orgName} to you will now be encrypted to your new key.`,
    removed: `Removed. Email from ${orgName} will now tell you a message is waiting, for you to read here or over an encrypted connection.`,
  };

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Encrypted email</h1>
      <p>
        If you use OpenPGP email encryption (for example in Thunderbird, or with GnuPG), you can give {orgName} your public key. Messages from{' '}
        {orgName} to you by email will then be encrypted to this key, so only you can read them, and signed by {orgName}.
      </p>
      <p>
        Without a key, a message about your health does not come in the email itself: you get a notice asking you to read it here in the portal,
        or it comes over an encrypted connection when your email provider supports one.
      </p>
      {done ? (
        <p className="notice" role="status">
          {doneMessages[done]}
        </p>
      ) : null}
      <FormError message={result?.errors.form} />

      <section className="card" aria-labelledby="key-heading">
        <h2 id="key-heading">Your key</h2>
        {key ? (
          <>
            <dl className="evidence">
              <div className="evidence__row">
                <dt>Fingerprint</dt>
                <dd className="fingerprint">{key.display}</dd>
              </div>
              <div className="evidence__row">
                <dt>Expires</dt>
                <dd>{key.expiresAt ? (key.expired ? `Expired on ${day(key.expiresAt)}` : day(key.expiresAt)) : 'Does not expire'}</dd>
              </div>
              <div className="evidence__row">
                <dt>Added</dt>
                <dd>{day(key.addedAt)}</dd>
              </div>
            </dl>
            {key.expired ? (
              <p className="notice">This key has expired, so email comes as a notice again until you add a current key.</p>
            ) : (
              <p className="muted">Check that this fingerprint matches the one your encryption app shows for your key.</p>
            )}
          </>
        ) : (
          <p>You have not added a key. Email from {orgName} comes as a notice to read your messages here.</p>
        )}
      </section>

      <section className="card" aria-labelledby="change-heading">
        <h2 id="change-heading">{key ? 'Replace or remove your key' : 'Add your key'}</h2>
        {canChange ? (
          <>
            <Form method="post" noValidate>
              <input type="hidden" name="intent" value="save" />
              <KeyField error={result?.errors.publicKey} defaultValue={result?.publicKey ?? ''} />
              <button className="button" type="submit" disabled={busy}>
                {key ? 'Replace key' : 'Save key'}
              </button>
            </Form>
            {key ? (
              <Form method="post" className="key-remove">
                <input type="hidden" name="intent" value="remove" />
                <input type="hidden" name="fingerprint" value={key.fingerprint} />
                <button className="button button--secondary" type="submit" disabled={busy}>
                  Remove key
                </button>
              </Form>
            ) : null}
          </>
        ) : (
          <>
            <p>Because this changes how your health information reaches you, first confirm it is you with a new code.</p>
            <Link className="button" to={verifyHref}>
              Confirm it is you
            </Link>
          </>
        )}
      </section>
      <p>
        <Link to={`/o/${slug}/account`}>Back to your account</Link>
      </p>
    </main>
  );
}
