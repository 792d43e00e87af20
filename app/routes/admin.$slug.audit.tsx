// The audit log (issue 8, part 8; capability 'audit'): search by time range, actor, patient and event type with keyset
// paging; export the same selection as CSV; verify the hash chain (AU2). Times are UTC, with the organisation's local
// time beside them. Audit details carry ids and reason codes only, never PHI (appendAudit refuses PHI keys).
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { ErrorSummary } from '../components/error-summary';
import { TableScroll } from '../components/table-scroll';
import { requireAdmin } from '../services/all.server';
import {
  AUDIT_ACTOR_TYPES,
  filterQuery,
  organisationTimeZone,
  parseAuditFilters,
  searchAudit,
  verifyAndRecord,
  type AuditFilterInput,
} from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Audit log · Carepost admin' }];

function cursorOf(url: URL): { before?: number; after?: number } {
  const before = url.searchParams.get('before');
  const after = url.searchParams.get('after');
  if (before && /^[1-9]\d{0,15}$/.test(before)) return { before: Number(before) };
  if (after && /^\d{1,16}$/.test(after)) return { after: Number(after) };
  return {};
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'audit', now: new Date() });
  const url = new URL(request.url);
  const parsed = parseAuditFilters(url.searchParams);
  const timeZone = await organisationTimeZone(context.db, org.id);
  const query = filterQuery(parsed.input).toString();
  if (!parsed.ok) {
    return data({ slug: org.slug, timeZone, actorTypes: AUDIT_ACTOR_TYPES, input: parsed.input, fieldErrors: parsed.fieldErrors, query, rows: [], newerThan: null, olderThan: null, filtered: true }, { status: 400 });
  }
  const page = await searchAudit(context.db, org.id, parsed.filters, cursorOf(url));
  return {
    slug: org.slug,
    timeZone,
    actorTypes: AUDIT_ACTOR_TYPES,
    input: parsed.input,
    fieldErrors: {} as Partial<Record<keyof AuditFilterInput, string>>,
    query,
    filtered: query !== '',
    newerThan: page.newerThan,
    olderThan: page.olderThan,
    rows: page.rows.map((r) => ({
      seq: r.seq,
      at: r.occurredAt.toISOString(),
      actorType: r.actorType,
      actorId: r.actorId,
      action: r.action,
      subjectType: r.subjectType,
      subjectId: r.subjectId,
      details: Object.keys(r.details).length > 0 ? JSON.stringify(r.details) : '',
    })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'audit', now: new Date() });
  const form = await request.formData();
  if (form.get('intent') !== 'verify') return data({ verification: null, error: 'Unknown action.' }, { status: 400 });
  const result = await verifyAndRecord(context.db, { orgId: org.id, adminId: admin.id });
  return {
    error: null,
    verification: { ok: result.ok, events: result.events, problemCount: result.problemCount, problems: result.problems, verifiedAt: result.verifiedAt.toISOString() },
  };
}

const PROBLEM_WORDS: Record<string, string> = {
  gap: 'a row is missing before this one (deleted or renumbered)',
  prev_hash: 'this row does not follow the row before it (reordered, inserted or the previous row changed)',
  hash: 'this row was changed after it was written',
  head_mismatch: 'the end of the chain does not match its recorded head',
  missing_tail: 'rows at the end of the chain are missing',
};

const FIELD_ORDER: (keyof AuditFilterInput)[] = ['from', 'to', 'actorType', 'actorId', 'patientId', 'action'];

function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function FilterField({ id, label, hint, error, value, ...rest }: { id: keyof AuditFilterInput; label: string; hint?: string; error?: string; value: string; type?: string; placeholder?: string }) {
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field--error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p id={`${id}-hint`} className="field__hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field__error">
          <span className="visually-hidden">Error: </span>
          {error}
        </p>
      ) : null}
      <input id={id} name={id} defaultValue={value} aria-describedby={described} aria-invalid={error ? true : undefined} autoComplete="off" spellCheck={false} {...rest} />
    </div>
  );
}

export default function AuditLog() {
  const { slug, timeZone, actorTypes, input, fieldErrors, query, rows, newerThan, olderThan, filtered } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const verifying = navigation.state === 'submitting' && navigation.formData?.get('intent') === 'verify';
  const summary = useRef<HTMLDivElement>(null);
  const verification = useRef<HTMLDivElement>(null);
  const errorList = FIELD_ORDER.filter((f) => fieldErrors[f]).map((f) => ({ field: f, message: fieldErrors[f]! }));
  useEffect(() => {
    if (errorList.length > 0) summary.current?.focus();
  }, [query]);
  useEffect(() => {
    if (result?.verification) verification.current?.focus();
  }, [result]);
  const base = `/admin/${slug}/audit`;
  const withQuery = (extra: Record<string, string>) => {
    const params = new URLSearchParams(query);
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    return `${base}?${params.toString()}`;
  };
  const v = result?.verification;
  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <h1>Audit log</h1>
      <p>
        {`Every sign-in, code sent, consent change, gate decision, message opened and admin action, in this organisation's hash chain. Times are UTC, with local time in ${timeZone}. Details hold ids and reason codes only.`}
      </p>

      <section aria-labelledby="verify-title" className="card">
        <h2 id="verify-title">Verify the chain</h2>
        <p>Recomputes every event&apos;s hash from the first one and checks it against the chain&apos;s recorded head, so an edited, deleted or reordered row is found (AU2). The check itself is recorded in the log.</p>
        <Form method="post">
          <button className="button" type="submit" name="intent" value="verify" disabled={verifying}>
            {verifying ? 'Verifying…' : 'Verify chain'}
          </button>
        </Form>
        <div ref={verification} tabIndex={-1} role="status">
          {v ? (
            v.ok ? (
              <p className="status--ok">
                <strong>Chain intact.</strong>
                {` ${v.events.toLocaleString('en-US')} events checked at ${utcText(v.verifiedAt)}; no problems.`}
              </p>
            ) : (
              <div className="status--problem">
                <p>
                  <strong>Problems found.</strong>
                  {` ${v.events.toLocaleString('en-US')} events checked at ${utcText(v.verifiedAt)}; ${v.problemCount} ${v.problemCount === 1 ? 'problem' : 'problems'}${v.problemCount > v.problems.length ? ` (first ${v.problems.length} shown)` : ''}:`}
                </p>
                <ul>
                  {v.problems.map((p) => (
                    <li key={`${p.seq}-${p.problem}`}>{`Event ${p.seq}: ${PROBLEM_WORDS[p.problem] ?? p.problem} (${p.problem}).`}</li>
                  ))}
                </ul>
              </div>
            )
          ) : null}
        </div>
      </section>

      <section aria-labelledby="search-title">
        <h2 id="search-title">Search</h2>
        <ErrorSummary ref={summary} errors={errorList} />
        <Form method="get" className="filters" noValidate>
          <FilterField id="from" label="From (UTC date)" type="date" value={input.from} error={fieldErrors.from} />
          <FilterField id="to" label="To (UTC date, included)" type="date" value={input.to} error={fieldErrors.to} />
          <div className={`field${fieldErrors.actorType ? ' field--error' : ''}`}>
            <label htmlFor="actorType">Actor type</label>
            {fieldErrors.actorType ? (
              <p id="actorType-error" className="field__error">
                <span className="visually-hidden">Error: </span>
                {fieldErrors.actorType}
              </p>
            ) : null}
            <select id="actorType" name="actorType" defaultValue={input.actorType} aria-describedby={fieldErrors.actorType ? 'actorType-error' : undefined}>
              <option value="">Any</option>
              {actorTypes.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          <FilterField id="actorId" label="Actor id" hint="An admin's, patient's or API key's id." value={input.actorId} error={fieldErrors.actorId} />
          <FilterField id="patientId" label="Patient id" hint="Events by or about this patient, including their deliveries." value={input.patientId} error={fieldErrors.patientId} />
          <FilterField id="action" label="Event type" hint="For example consent.granted, or consent. for every consent event." value={input.action} error={fieldErrors.action} />
          <div className="button-row">
            <button className="button" type="submit">
              Search
            </button>
            {filtered ? <Link to={base}>Clear filters</Link> : null}
          </div>
        </Form>
      </section>

      <section aria-labelledby="results-title">
        <h2 id="results-title">{filtered ? 'Matching events' : 'Latest events'}</h2>
        <p>
          <a href={`${base}/export.csv${query ? `?${query}` : ''}`} download>
            {filtered ? 'Download these results as CSV' : 'Download the whole log as CSV'}
          </a>
          {' (oldest first, with each event’s hashes, so the file can be checked independently).'}
        </p>
        {rows.length === 0 ? (
          <p>No events match.</p>
        ) : (
          <TableScroll label="Audit events">
            <table className="data-table data-table--audit">
              <caption className="visually-hidden">Audit events, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Event</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.seq}>
                    <td className="num">{r.seq}</td>
                    <td>
                      <time dateTime={r.at}>{utcText(r.at)}</time>
                      <br />
                      <span className="muted">{formatDateTime(r.at, timeZone)}</span>
                    </td>
                    <td>
                      {r.actorType}
                      {r.actorId ? <code className="id">{` ${r.actorId}`}</code> : null}
                    </td>
                    <td>
                      <code>{r.action}</code>
                    </td>
                    <td>{r.subjectType ? <>{`${r.subjectType} `}<code className="id">{r.subjectId}</code></> : '—'}</td>
                    <td>
                      <code className="details">{r.details}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
        {newerThan !== null || olderThan !== null ? (
          <nav className="pager" aria-label="Audit log pages">
            <ul>
              {newerThan !== null ? (
                <li>
                  <Link to={withQuery({ after: String(newerThan) })} rel="prev">
                    Newer events
                  </Link>
                </li>
              ) : null}
              {olderThan !== null ? (
                <li>
                  <Link to={withQuery({ before: String(olderThan) })} rel="next">
                    Older events
                  </Link>
                </li>
              ) : null}
            </ul>
          </nav>
        ) : null}
      </section>
    </main>
  );
}
