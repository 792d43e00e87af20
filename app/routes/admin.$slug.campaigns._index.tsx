import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useRevalidator } from '@remix-run/react';
import { useEffect } from 'react';
import { requireAdmin } from '../services/all.server';
import { listCampaigns, orgTimeZone } from '../services/all.server';
import { CAMPAIGN_KIND_LABELS, CAMPAIGN_STATUS_LABELS, percent } from '../utils/campaign-words';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// The organisation's renewal campaigns with status and progress: aggregate figures only, for every role with the
// 'campaigns' capability (EN3: requireAdmin first, then everything scoped by org.id).
export const meta: MetaFunction = () => [{ title: 'Renewal campaigns · Carepost admin' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'campaigns', now: new Date() });
  const [rows, timeZone] = await Promise.all([listCampaigns(context.db, org.id), orgTimeZone(context.db, org.id)]);
  return {
    slug: org.slug,
    timeZone,
    campaigns: rows.map(({ campaign: c, done }) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      status: c.status,
      targeted: c.targetedCount,
      done,
      createdAt: c.createdAt.toISOString(),
      scheduledAt: c.scheduledAt?.toISOString() ?? null,
    })),
  };
}

export default function Campaigns() {
  const { slug, timeZone, campaigns } = useLoaderData<typeof loader>();
  const revalidator = useRevalidator();
  const live = campaigns.some((c) => c.status === 'running' || c.status === 'scheduled');
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => {
      if (revalidator.state === 'idle' && document.visibilityState === 'visible') revalidator.revalidate();
    }, 3_000);
    return () => clearInterval(timer);
  }, [live, revalidator]);
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Renewal campaigns</h1>
      <p>Ask patients to renew authorisations before they lapse, or remind them that they will. Every request goes through the send engine, so consent, channels and quiet hours apply.</p>
      <p>
        <Link className="button" to={`/admin/${slug}/campaigns/new`}>
          New campaign
        </Link>
      </p>
      {campaigns.length === 0 ? (
        <p>No campaigns yet.</p>
      ) : (
        <table className="access-table campaign-table">
          <caption>Campaigns, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {campaigns.map((c) => {
              const pct = percent(c.done, c.targeted ?? 0);
              return (
                <tr key={c.id}>
                  <td>
                    <Link to={`/admin/${slug}/campaigns/${c.id}`}>{c.name}</Link>
                  </td>
                  <td>{CAMPAIGN_KIND_LABELS[c.kind]}</td>
                  <td>{CAMPAIGN_STATUS_LABELS[c.status]}</td>
                  <td>
                    {c.targeted === null ? (
                      c.scheduledAt ? `Starts ${formatDateTime(c.scheduledAt, timeZone)}` : 'Not started'
                    ) : (
                      <>
                        <progress className="campaign-progress" max={100} value={pct} aria-label={`Progress of ${c.name}`} />
                        <span>{` ${pct}% of ${c.targeted.toLocaleString('en-US')}`}</span>
                      </>
                    )}
                  </td>
                  <td>{formatDateTime(c.createdAt, timeZone)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
