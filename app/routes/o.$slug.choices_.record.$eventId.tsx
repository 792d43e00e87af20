import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useSearchParams } from '@remix-run/react';
import { evidenceRows, signedRecord, textSections } from '../services/consent.server';
import { AuthorizationTextView } from '../components/consent';
import { requirePatient } from '../services/identity.server';

// AV5: the text the patient signed and the evidence, printable; the download is the same record as one HTML file.
export const meta: MetaFunction = () => [{ title: 'Your signed permission · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const record = await signedRecord(context.db, org.id, patient.id, params.eventId ?? '');
  if (!record) throw data({ reason: 'not_found' }, { status: 404 });
  return {
    slug: org.slug,
    eventId: record.event.id,
    topicName: record.topic.name,
    text: textSections(record.text.body!),
    evidence: evidenceRows(record, org.name),
  };
}

const DONE: Record<string, string> = {
  granted: 'Thank you. Your permission is recorded.',
  renewed: 'Your permission is renewed. This is the new record; the earlier one is kept.',
};

export default function SignedRecordPage() {
  const { slug, eventId, topicName, text, evidence } = useLoaderData<typeof loader>();
  const [search] = useSearchParams();
  const done = DONE[search.get('done') ?? ''];
  return (
    <main id="main" className="page" tabIndex={-1}>
      {done ? (
        <p className="notice no-print" role="status">
          {done}
        </p>
      ) : null}
      <h1>Your signed permission: {topicName}</h1>
      <p className="button-row no-print">
        <a className="button" href={`/o/${slug}/choices/record/${eventId}/download`} download>
          Download a copy (HTML)
        </a>
        <Link to={`/o/${slug}/choices`}>Back to my choices</Link>
      </p>
      <p className="muted no-print">To keep it as a PDF, open the downloaded copy or this page and choose Print, then Save as PDF.</p>
      <AuthorizationTextView text={text} />
      <h2>How it was signed</h2>
      <dl className="evidence">
        {evidence.map(([k, v]) => (
          <div key={k} className="evidence__row">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </main>
  );
}
