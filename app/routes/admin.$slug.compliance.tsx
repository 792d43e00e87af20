// The compliance dashboard (issue 8, part 7; capability 'dashboard'). Aggregates only: counts by topic, week, reason
// code, route and suppression reason, never a patient, a contact point or a message. Each chart is drawn on the server
// (recharts, ADR 011) and followed by a table with the same figures, its text alternative.
import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { ChartFigure } from '../components/chart-figure';
import { TableScroll } from '../components/table-scroll';
import { renderColumns, renderHorizontalBars } from '../components/charts.server';
import { can, requireAdmin } from '../services/all.server';
import { complianceDashboard, DASHBOARD_WEEKS } from '../services/all.server';
import { formatDate, formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Compliance · Carepost admin' }];

const ROUTE_WORDS: Record<string, string> = {
  pgp: 'Encrypted email (PGP)',
  tls: 'Email over enforced TLS',
  portal_notice: 'Portal notice by email',
  sms_notice: 'Portal notice by text message',
  push_notice: 'Portal notice by phone notification',
  portal: 'Portal only',
  unknown: 'Not recorded',
};
const DECISION_WORDS: Record<string, string> = { allow: 'Sent', block: 'Blocked', defer: 'Deferred' };
const SUPPRESSION_WORDS: Record<string, string> = { hard_bounce: 'Hard bounce', complaint: 'Spam complaint', sms_stop: 'SMS STOP', admin: 'Added by an admin' };

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'dashboard', now: new Date() });
  const d = await complianceDashboard(context.db, org.id, new Date());
  const weekLabel = (iso: string) => new Date(`${iso}T12:00:00Z`).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const activeRows = d.activeByTopic.map((t) => ({ label: t.retired ? `${t.name} (retired)` : t.name, active: t.active }));
  const weekRows = d.weeks.map((w) => ({ label: weekLabel(w.weekStart), ...w }));
  const decisionRows = d.decisions.map((r) => ({ label: `${DECISION_WORDS[r.decision] ?? r.decision}: ${r.reason}`, count: r.count, decision: r.decision, reason: r.reason }));
  const routeRows = d.routes.map((r) => ({ label: ROUTE_WORDS[r.route] ?? r.route, count: r.count, route: r.route }));
  const suppressionRows = d.suppressions.map((s) => ({ label: `${SUPPRESSION_WORDS[s.reason] ?? s.reason} (${s.kind === 'sms' ? 'SMS' : 'email'})`, count: s.count }));
  return {
    slug: org.slug,
    canAudit: can(admin.role, 'audit'),
    timeZone: d.timeZone,
    since: d.since.toISOString(),
    weeks: DASHBOARD_WEEKS,
    chain: { events: d.chain.events, last: d.chain.lastVerification ? { ...d.chain.lastVerification, at: d.chain.lastVerification.at.toISOString() } : null },
    active: { rows: activeRows, svg: activeRows.length ? renderHorizontalBars(activeRows, [{ key: 'active', label: 'Active' }]) : '' },
    activity: {
      rows: weekRows,
      svg: renderColumns(weekRows, [
        { key: 'granted', label: 'Granted' },
        { key: 'renewed', label: 'Renewed' },
        { key: 'revoked', label: 'Revoked' },
        { key: 'expired', label: 'Expired' },
      ]),
    },
    decisions: { rows: decisionRows, svg: decisionRows.length ? renderHorizontalBars(decisionRows, [{ key: 'count', label: 'Deliveries' }]) : '' },
    routes: { rows: routeRows, svg: routeRows.length ? renderHorizontalBars(routeRows, [{ key: 'count', label: 'Deliveries' }]) : '' },
    suppressions: { rows: suppressionRows, svg: suppressionRows.length ? renderHorizontalBars(suppressionRows, [{ key: 'count', label: 'Suppressed' }]) : '' },
  };
}

function CountTable({ caption, head, rows }: { caption: string; head: [string, string]; rows: { label: string; count: number }[] }) {
  return (
    <table className="data-table data-table--compact">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{head[0]}</th>
          <th scope="col" className="num">
            {head[1]}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.label}>
            <th scope="row">{r.label}</th>
            <td className="num">{r.count.toLocaleString('en-US')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function Compliance() {
  const d = useLoaderData<typeof loader>();
  const activeTotal = d.active.rows.reduce((sum, r) => sum + r.active, 0);
  const sent = d.routes.rows.reduce((sum, r) => sum + r.count, 0);
  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <h1>Compliance</h1>
      <p>
        {`Counts only: no patient, address or message is shown here. Delivery figures cover the last ${d.weeks} weeks (since ${formatDate(d.since, d.timeZone)}); weeks start on Monday in ${d.timeZone}.`}
      </p>

      <section aria-labelledby="chain-title" className="card">
        <h2 id="chain-title">Audit log</h2>
        <p>{`${d.chain.events.toLocaleString('en-US')} events in this organisation's hash chain.`}</p>
        {d.chain.last ? (
          <p className={d.chain.last.ok ? 'status--ok' : 'status--problem'}>
            <strong>{d.chain.last.ok ? 'Intact' : 'Problems found'}</strong>
            {` when last verified, ${formatDateTime(d.chain.last.at, d.timeZone)} (${d.chain.last.events.toLocaleString('en-US')} events${d.chain.last.ok ? '' : `, ${d.chain.last.problems} problems`}).`}
          </p>
        ) : (
          <p>
            <strong>Never verified.</strong>
          </p>
        )}
        {d.canAudit ? (
          <p>
            <Link to={`/admin/${d.slug}/audit`}>Search, export or verify the audit log</Link>
          </p>
        ) : null}
      </section>

      <section aria-labelledby="active-title">
        <h2 id="active-title">Active authorisations by topic</h2>
        {d.active.rows.length === 0 ? (
          <p>There are no topics yet.</p>
        ) : (
          <ChartFigure id="active-chart" title={`${activeTotal.toLocaleString('en-US')} active authorisations`} svg={d.active.svg} summary="Bar chart of active authorisations per topic.">
            <CountTable caption="Active authorisations by topic" head={['Topic', 'Active']} rows={d.active.rows.map((r) => ({ label: r.label, count: r.active }))} />
          </ChartFigure>
        )}
      </section>

      <section aria-labelledby="activity-title">
        <h2 id="activity-title">Grants, renewals, revocations and expiries per week</h2>
        <ChartFigure
          id="activity-chart"
          title={`The last ${d.weeks} weeks`}
          svg={d.activity.svg}
          summary="Grouped bar chart of authorisations granted, renewed, revoked and expired each week."
          legend={['Granted', 'Renewed', 'Revoked', 'Expired']}
        >
          <TableScroll label="Authorisation events per week">
            <table className="data-table data-table--compact">
              <caption className="visually-hidden">Authorisation events per week</caption>
              <thead>
                <tr>
                  <th scope="col">Week starting</th>
                  <th scope="col" className="num">
                    Granted
                  </th>
                  <th scope="col" className="num">
                    Renewed
                  </th>
                  <th scope="col" className="num">
                    Revoked
                  </th>
                  <th scope="col" className="num">
                    Expired
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.activity.rows.map((w) => (
                  <tr key={w.weekStart}>
                    <th scope="row">{w.weekStart}</th>
                    <td className="num">{w.granted}</td>
                    <td className="num">{w.renewed}</td>
                    <td className="num">{w.revoked}</td>
                    <td className="num">{w.expired}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        </ChartFigure>
      </section>

      <section aria-labelledby="decisions-title">
        <h2 id="decisions-title">Gate decisions by reason</h2>
        <p>Each delivery counted once, by the send engine&apos;s latest decision and its reason code.</p>
        {d.decisions.rows.length === 0 ? (
          <p>No deliveries in this period.</p>
        ) : (
          <ChartFigure id="decisions-chart" title="Deliveries by decision and reason" svg={d.decisions.svg} summary="Bar chart of deliveries per gate decision and reason.">
            <CountTable caption="Gate decisions by reason" head={['Decision: reason', 'Deliveries']} rows={d.decisions.rows} />
          </ChartFigure>
        )}
      </section>

      <section aria-labelledby="routes-title">
        <h2 id="routes-title">How messages were delivered</h2>
        {d.routes.rows.length === 0 ? (
          <p>No messages sent in this period.</p>
        ) : (
          <ChartFigure id="routes-chart" title={`${sent.toLocaleString('en-US')} sent deliveries by route`} svg={d.routes.svg} summary="Bar chart of sent deliveries per route.">
            <CountTable caption="Sent deliveries by route" head={['Route', 'Deliveries']} rows={d.routes.rows} />
          </ChartFigure>
        )}
      </section>

      <section aria-labelledby="suppressions-title">
        <h2 id="suppressions-title">Suppressed addresses and numbers</h2>
        {d.suppressions.rows.length === 0 ? (
          <p>No suppressions.</p>
        ) : (
          <ChartFigure id="suppressions-chart" title="Suppressions by reason" svg={d.suppressions.svg} summary="Bar chart of suppressed addresses and numbers per reason.">
            <CountTable caption="Suppressions by reason" head={['Reason', 'Count']} rows={d.suppressions.rows} />
          </ChartFigure>
        )}
      </section>
    </main>
  );
}
