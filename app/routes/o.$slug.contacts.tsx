import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { listContactPoints, requirePatient } from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Your contact details · Carepost' }];

const KIND_LABELS = { email: 'Email address', sms: 'Mobile number' } as const;

const DONE_MESSAGES: Record<string, string> = {
  added: 'Added. We have let your other email addresses and mobile numbers know, in case it was not you.',
  removed: 'Removed. We have let your other email addresses and mobile numbers know, in case it was not you.',
};

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
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Your contact details</h1>
      <p>
        {orgName} uses these to reach you, and we send your sign-in codes to the verified ones. Adding or removing one needs a fresh
        check that it is you.
      </p>
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
      <ul className="session-list contact-list" aria-label="Contact details">
        {points.map((p) => (
          <li key={p.id}>
            <span className="muted">{KIND_LABELS[p.kind]}</span>
            <br />
            <strong className="contact-list__value">{p.value}</strong>
            <br />
            {p.verified ? <span className="contact-list__status">Verified</span> : <span className="contact-list__status contact-list__status--unverified">Not verified: add it again to verify it</span>}
            <div className="button-row contact-list__actions">
              <Link className="button button--secondary" to={`/o/${slug}/contacts/${p.id}/remove`} aria-label={`Remove ${p.value}`}>
                Remove
              </Link>
            </div>
          </li>
        ))}
      </ul>
      <div className="button-row">
        <Link className="button" to={`/o/${slug}/contacts/new`}>
          Add an email address or mobile number
        </Link>
        <Link to={`/o/${slug}/account`}>Back to your account</Link>
      </div>
    </main>
  );
}
