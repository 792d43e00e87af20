import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { listContactPoints, requirePatient } from '../services/all.server';
import { metaT, useT, type UiKey } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('contacts.metaTitle') }];

const KIND_LABELS = { email: 'contacts.kind.email', sms: 'contacts.kind.sms' } as const;

const DONE_MESSAGES: Record<string, UiKey> = { added: 'contacts.done.added', removed: 'contacts.done.removed' };

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const points = await listContactPoints({ db: context.db, orgId: org.id, patientId: patient.id });
  const done = new URL(request.url).searchParams.get('done') ?? '';
  return {
    slug: org.slug,
    orgName: org.name,
    done: DONE_MESSAGES[done] ?? null,
    points: points.map((p) => ({ id: p.id, kind: p.kind, value: p.value, verified: p.verifiedAt !== null })),
  };
}

export default function Contacts() {
  const { slug, orgName, done, points } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('contacts.title')}</h1>
      <p>{t('contacts.intro', { org: orgName })}</p>
      {done ? (
        <p className="notice" role="status">
          {t(done)}
        </p>
      ) : null}
      <ul className="session-list contact-list" aria-label={t('account.contacts')}>
        {points.map((p) => (
          <li key={p.id}>
            <span className="muted">{t(KIND_LABELS[p.kind])}</span>
            <br />
            <strong className="contact-list__value">{p.value}</strong>
            <br />
            {p.verified ? (
              <span className="contact-list__status">{t('contacts.verified')}</span>
            ) : (
              <span className="contact-list__status contact-list__status--unverified">{t('contacts.unverified')}</span>
            )}
            <div className="button-row contact-list__actions">
              <Link className="button button--secondary" to={`/o/${slug}/contacts/${p.id}/remove`} aria-label={t('contacts.removeLabel', { value: p.value })}>
                {t('contacts.remove')}
              </Link>
            </div>
          </li>
        ))}
      </ul>
      <div className="button-row">
        <Link className="button" to={`/o/${slug}/contacts/new`}>
          {t('contacts.add')}
        </Link>
        <Link to={`/o/${slug}/account`}>{t('contacts.back')}</Link>
      </div>
    </main>
  );
}
