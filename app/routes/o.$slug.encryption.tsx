import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { FormError } from '../components/field';
import { redirectTo, requirePatient, requireRecentVerification, verifiedWithin } from '../services/all.server';
import { formatFingerprint, getPatientPgpKey, PGP_KEY_MAX_BYTES, removePatientPgpKey, savePatientPgpKey } from '../services/all.server';
import { pageT, translateServerText } from '../services/all.server';
import { formatDate, metaT, useT, type UiKey } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// A patient's OpenPGP public key: when there is one, the send engine encrypts their email to it (PGP/MIME);
// without one, email carries only a notice. Changing it changes where health information goes, so it needs a
// recent verification (SE5), like a contact point.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('pgp.metaTitle') }];

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
  const { locale } = pageT(request, context);
  // Dates are written here, in the page's language, so the browser renders the same words.
  const day = (d: Date) => formatDate(d, locale, 'UTC');
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
          expiresAt: key.expiresAt ? day(key.expiresAt) : null,
          expired: key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime(),
          addedAt: day(key.createdAt),
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
  const { locale, t } = pageT(request, context);

  if (intent === 'save') {
    const pasted = String(form.get('publicKey') ?? '');
    if (!pasted.trim()) return data<ActionResult>({ errors: { publicKey: t('pgp.empty') }, publicKey: '' }, { status: 400 });
    const result = await savePatientPgpKey(context.db, { orgId: org.id, patientId: patient.id, armored: pasted, now });
    if (result.status === 'invalid') {
      // A private key is never sent back into the page, and nothing oversized either.
      const echo = result.error === 'private_key' || result.error === 'too_large' || pasted.length > PGP_KEY_MAX_BYTES ? '' : pasted;
      return data<ActionResult>({ errors: { publicKey: translateServerText(locale, result.message) }, publicKey: echo }, { status: 400 });
    }
    throw redirectTo(`/o/${org.slug}/encryption?done=${result.replaced ? 'replaced' : 'added'}`);
  }

  if (intent === 'remove') {
    const result = await removePatientPgpKey(context.db, { orgId: org.id, patientId: patient.id, fingerprint: String(form.get('fingerprint') ?? '') });
    if (result.status === 'not_found') {
      return data<ActionResult>({ errors: { form: t('pgp.notFound') }, publicKey: '' }, { status: 404 });
    }
    throw redirectTo(`/o/${org.slug}/encryption?done=removed`);
  }

  return data<ActionResult>({ errors: { form: t('common.unknownAction') }, publicKey: '' }, { status: 400 });
}

/** A labelled textarea whose error is tied to it (aria-describedby, aria-invalid) and announced, like Field. */
function KeyField({ error, defaultValue }: { error?: string; defaultValue: string }) {
  const described = ['publicKey-hint', error ? 'publicKey-error' : null].filter(Boolean).join(' ');
  const t = useT();
  return (
    <div className={`field${error ? ' field--error' : ''}`}>
      <label htmlFor="publicKey">{t('pgp.keyLabel')}</label>
      <p id="publicKey-hint" className="field__hint">
        {t('pgp.keyHint')}
      </p>
      {/* Always rendered, so a screen reader announces the error when it appears. */}
      <div role="alert">
        {error ? (
          <p id="publicKey-error" className="field__error">
            <span className="visually-hidden">{`${t('common.error')} `}</span>
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
  const t = useT();
  const doneKeys: Record<Done, UiKey> = { added: 'pgp.done.added', replaced: 'pgp.done.replaced', removed: 'pgp.done.removed' };

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('account.encryption')}</h1>
      <p>{t('pgp.intro', { org: orgName })}</p>
      <p>{t('pgp.withoutKey')}</p>
      {done ? (
        <p className="notice" role="status">
          {t(doneKeys[done], { org: orgName })}
        </p>
      ) : null}
      <FormError message={result?.errors.form} />

      <section className="card" aria-labelledby="key-heading">
        <h2 id="key-heading">{t('pgp.yourKey')}</h2>
        {key ? (
          <>
            <dl className="evidence">
              <div className="evidence__row">
                <dt>{t('pgp.fingerprint')}</dt>
                <dd className="fingerprint">{key.display}</dd>
              </div>
              <div className="evidence__row">
                <dt>{t('pgp.expires')}</dt>
                <dd>{key.expiresAt ? (key.expired ? t('pgp.expiredOn', { date: key.expiresAt }) : key.expiresAt) : t('pgp.noExpiry')}</dd>
              </div>
              <div className="evidence__row">
                <dt>{t('pgp.added')}</dt>
                <dd>{key.addedAt}</dd>
              </div>
            </dl>
            {key.expired ? (
              <p className="notice">{t('pgp.expiredNote')}</p>
            ) : (
              <p className="muted">{t('pgp.checkFingerprint')}</p>
            )}
          </>
        ) : (
          <p>{t('pgp.noKey', { org: orgName })}</p>
        )}
      </section>

      <section className="card" aria-labelledby="change-heading">
        <h2 id="change-heading">{key ? t('pgp.replaceOrRemove') : t('pgp.addKey')}</h2>
        {canChange ? (
          <>
            <Form method="post" noValidate>
              <input type="hidden" name="intent" value="save" />
              <KeyField error={result?.errors.publicKey} defaultValue={result?.publicKey ?? ''} />
              <button className="button" type="submit" disabled={busy}>
                {key ? t('pgp.replace') : t('pgp.save')}
              </button>
            </Form>
            {key ? (
              <Form method="post" className="key-remove">
                <input type="hidden" name="intent" value="remove" />
                <input type="hidden" name="fingerprint" value={key.fingerprint} />
                <button className="button button--secondary" type="submit" disabled={busy}>
                  {t('pgp.remove')}
                </button>
              </Form>
            ) : null}
          </>
        ) : (
          <>
            <p>{t('pgp.stepUp')}</p>
            <Link className="button" to={verifyHref}>
              {t('verify.title')}
            </Link>
          </>
        )}
      </section>
      <p>
        <Link to={`/o/${slug}/account`}>{t('contacts.back')}</Link>
      </p>
    </main>
  );
}
