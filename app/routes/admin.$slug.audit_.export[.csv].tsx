// The audit CSV export (issue 8, part 8; capability 'audit'): the same filters as the audit page, oldest first, streamed
// from keyset batches so a log of a million rows never sits in memory, and paced by the client (responseDrained).
// The file ends at the chain head as it was when the download began; the download itself is recorded (AU1).
import { type LoaderFunctionArgs } from '@remix-run/node';
import { requireAdmin } from '../services/all.server';
import { auditCsvStream, auditHeadSeq, organisationTimeZone, parseAuditFilters, recordAuditExport } from '../services/all.server';

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'audit', now });
  const parsed = parseAuditFilters(new URL(request.url).searchParams);
  if (!parsed.ok) {
    const problems = Object.entries(parsed.fieldErrors).map(([field, message]) => `${field}: ${message}`);
    return new Response(`The filters are not valid.\n${problems.join('\n')}\n`, { status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' } });
  }
  const [upToSeq, timeZone] = await Promise.all([auditHeadSeq(context.db, org.id), organisationTimeZone(context.db, org.id)]);
  await recordAuditExport(context.db, { orgId: org.id, adminId: admin.id, input: parsed.input, upToSeq });
  const body = auditCsvStream(context.db, { orgId: org.id, filters: parsed.filters, timeZone, upToSeq, ready: context.responseDrained, signal: request.signal });
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="audit-${org.slug}-${stamp}.csv"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
