import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useSearchParams } from '@remix-run/react';
import { evidenceRows, patientPreferencesOf, signedBody, signedRecord, textSections } from '../services/all.server';
import { AuthorizationTextView } from '../components/consent';
import { requirePatient } from '../services/all.server';
import { metaT, useT, type UiKey } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// AV5: the text the patient signed and the evidence, printable; the download is the same record as one HTML file.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('record.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const record = await signedRecord(context.db, org.id, patient.id, params.eventId ?? '');
  if (!record) throw data({ reason: 'not_found' }, { status: 404 });
  const { locale } = pageT(request, context);
  const prefs = await patientPreferencesOf(context.db, org.id, patient.id);
  // AV5 and issue 9: exactly the words signed, in the language they were read in.
  const signed = signedBody(record);
  return {
    slug: org.slug,
    eventId: record.event.id,
    topicName: record.topic.name,
    text: textSections(signed.body),
    textLanguage: signed.language,
    evidence: evidenceRows(record, org.name, locale, prefs.timeZone),
  };
}

const DONE: Record<string, UiKey> = { granted: 'record.done.granted', renewed: 'record.done.renewed' };

export default function SignedRecordPage() {
  const { slug, eventId, topicName, text, textLanguage, evidence } = useLoaderData<typeof loader>();
  const [search] = useSearchParams();
  const t = useT();
  const doneKey = DONE[search.get('done') ?? ''];
  const done = doneKey ? t(doneKey) : undefined;
  return (
    <main id="main" className="page" tabIndex={-1}>
      {done ? (
        <p className="notice no-print" role="status">
          {done}
        </p>
      ) : null}
      <h1>{t('record.title', { topic: topicName })}</h1>
      <p className="button-row no-print">
        <a className="button" href={`/o/${slug}/choices/record/${eventId}/download`} download>
          {t('record.download')}
        </a>
        <Link to={`/o/${slug}/choices`}>{t('record.back')}</Link>
      </p>
      <p className="muted no-print">{t('record.pdfHint')}</p>
      <AuthorizationTextView text={text} lang={textLanguage} />
      <h2>{t('record.how')}</h2>
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
