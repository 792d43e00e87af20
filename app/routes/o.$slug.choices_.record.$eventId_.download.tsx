import type { LoaderFunctionArgs } from '@remix-run/node';
import { patientPreferencesOf, recordFileName, renderRecordHtml, signedRecord } from '../services/all.server';
import { requirePatient } from '../services/all.server';
import { pageT } from '../services/all.server';

// AV5: the signed record as one self-contained HTML file, for the patient's own files.
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const record = await signedRecord(context.db, org.id, patient.id, params.eventId ?? '');
  const { locale, t } = pageT(request, context);
  if (!record) return new Response(t('error.notFound.title'), { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Language': locale } });
  const prefs = await patientPreferencesOf(context.db, org.id, patient.id);
  return new Response(renderRecordHtml(record, org.name, locale, prefs.timeZone), {
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Disposition': `attachment; filename="${recordFileName(record)}"`,
    },
  });
}
