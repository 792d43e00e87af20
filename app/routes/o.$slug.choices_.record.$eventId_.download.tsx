import type { LoaderFunctionArgs } from '@remix-run/node';
import { recordFileName, renderRecordHtml, signedRecord } from '../services/consent.server';
import { requirePatient } from '../services/identity.server';

// AV5: the signed record as one self-contained HTML file, for the patient's own files.
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const record = await signedRecord(context.db, org.id, patient.id, params.eventId ?? '');
  if (!record) return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(renderRecordHtml(record, org.name), {
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Disposition': `attachment; filename="${recordFileName(record)}"`,
    },
  });
}
