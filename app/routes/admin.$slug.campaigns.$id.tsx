import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData, useNavigation, useRevalidator, useSearchParams } from '@remix-run/react';
import { useEffect } from 'react';
import { CampaignSamples } from '../components/campaign-samples';
import { can, requireAdmin } from '../services/all.server';
import {
  allowedIntents,
  campaignResults,
  countTargets,
  getCampaign,
  orgTimeZone,
  renderFunnelChart,
  sampleTargets,
  topicNames,
  transitionCampaign,
  type TransitionIntent,
} from '../services/all.server';
import { redirectTo } from '../services/all.server';
import { CAMPAIGN_CHANNEL_LABELS, CAMPAIGN_KIND_LABELS, CAMPAIGN_STATUS_LABELS, percent, reasonLabel } from '../utils/campaign-words';
import { formatDate, formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// One campaign: what it targets, a preview before it starts (the count for everyone; sample recipients only for the
// 'campaign_recipients' capability), launch / pause / resume / cancel (idempotent, DL4), live progress while it runs,
// and the results funnel with a chart and the same figures as a table.
export const meta: MetaFunction<typeof loader> = ({ data: d }) => [{ title: `${d?.campaign.name ?? 'Campaign'} · Carepost admin` }];

const INTENTS: TransitionIntent[] = ['launch', 'pause', 'resume', 'cancel'];
const INTENT_LABELS: Record<TransitionIntent, string> = { launch: 'Launch campaign', pause: 'Pause', resume: 'Resume', cancel: 'Cancel campaign' };
const DONE_WORDS: Record<string, string> = {
  launch: 'The campaign is launched.',
  pause: 'The campaign is paused. Nothing more is sent until you resume it.',
  resume: 'The campaign is running again.',
  cancel: 'The campaign is cancelled. Nothing more will be sent.',
  unchanged: 'Nothing changed: the campaign had already moved on.',
};

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'campaigns', now });
  const db = context.db;
  const campaign = await getCampaign(db, { orgId: org.id, campaignId: params.id ?? '' });
  if (!campaign) throw data({ reason: 'unknown_campaign' }, { status: 404 });
  const showSamples = can(admin.role, 'campaign_recipients');
  // The live preview is for a draft only: once launched, the list is made when the campaign starts, and a page that
  // refreshes every two seconds must not re-run the targeting count each time.
  const beforeStart = campaign.status === 'draft';
  const [timeZone, topics, preview, samples, results] = await Promise.all([
    orgTimeZone(db, org.id),
    topicNames(db, org.id, campaign.topicIds),
    beforeStart ? countTargets(db, campaign, now) : undefined,
    beforeStart && showSamples ? sampleTargets(db, campaign, now) : undefined,
    campaign.targetedAt ? campaignResults(db, { orgId: org.id, campaignId: campaign.id }) : undefined,
  ]);
  const stages = results
    ? [
        { label: 'Targeted', count: results.targeted },
        { label: 'Sent', count: results.sent },
        { label: 'Blocked', count: results.blocked },
        { label: 'Renewed', count: results.renewed },
        { label: 'No response', count: results.noResponse },
      ]
    : [];
  return {
    slug: org.slug,
    timeZone,
    showSamples,
    campaign: {
      id: campaign.id,
      name: campaign.name,
      kind: campaign.kind,
      status: campaign.status,
      topics: campaign.topicIds.map((id) => topics.get(id) ?? 'A removed topic'),
      expiringWithinDays: campaign.expiringWithinDays,
      grantedBefore: campaign.grantedBefore?.toISOString() ?? null,
      channels: campaign.channels,
      throttlePerMinute: campaign.throttlePerMinute,
      scheduledAt: campaign.scheduledAt?.toISOString() ?? null,
      launchedAt: campaign.launchedAt?.toISOString() ?? null,
      completedAt: campaign.completedAt?.toISOString() ?? null,
      intents: allowedIntents(campaign.status),
    },
    preview: preview ?? null,
    samples: samples?.map((s) => ({ ...s, expiresAt: s.expiresAt.toISOString() })) ?? null,
    results: results ?? null,
    stages,
    chart: results ? renderFunnelChart(stages, { title: `Results funnel of ${campaign.name}`, color: org.brandColor }) : null,
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'campaigns', now });
  const form = await request.formData();
  const intent = String(form.get('intent') ?? '') as TransitionIntent;
  if (!INTENTS.includes(intent)) return data({ error: 'Choose launch, pause, resume or cancel.' }, { status: 400 });
  const result = await transitionCampaign(context.db, { orgId: org.id, campaignId: params.id ?? '', intent, adminId: admin.id, now });
  if (result.status === 'not_found') throw data({ reason: 'unknown_campaign' }, { status: 404 });
  throw redirectTo(`/admin/${org.slug}/campaigns/${result.campaign.id}?done=${result.status === 'changed' ? intent : 'unchanged'}`);
}

export default function CampaignPage() {
  const { slug, timeZone, showSamples, campaign, preview, samples, results, stages, chart } = useLoaderData<typeof loader>();
  const [search] = useSearchParams();
  const done = DONE_WORDS[search.get('done') ?? ''];
  const busy = useNavigation().state === 'submitting';
  const revalidator = useRevalidator();
  const live = campaign.status === 'running' || campaign.status === 'scheduled';
  useEffect(() => {
    if (!live) return;
    // Live progress: re-run the loader every two seconds while the campaign can still move.
    const timer = setInterval(() => {
      if (revalidator.state === 'idle' && document.visibilityState === 'visible') revalidator.revalidate();
    }, 2_000);
    return () => clearInterval(timer);
  }, [live, revalidator]);
  const pct = results ? percent(results.done, results.targeted) : 0;
  const targeting = [
    campaign.expiringWithinDays !== null ? `expiring within ${campaign.expiringWithinDays} days` : null,
    campaign.grantedBefore ? `signed before ${formatDate(campaign.grantedBefore, timeZone)}` : null,
  ]
    .filter(Boolean)
    .join(', or ');
  return (
    <main id="main" className="page" tabIndex={-1}>
      <p>
        <Link to={`/admin/${slug}/campaigns`}>All campaigns</Link>
      </p>
      <h1>{campaign.name}</h1>
      <div role="status">{done ? <p className="notice">{done}</p> : null}</div>
      <dl className="campaign-facts">
        <dt>Status</dt>
        <dd>{CAMPAIGN_STATUS_LABELS[campaign.status]}</dd>
        <dt>Kind</dt>
        <dd>{CAMPAIGN_KIND_LABELS[campaign.kind]}</dd>
        <dt>Topics</dt>
        <dd>{campaign.topics.join(', ')}</dd>
        <dt>Authorisations</dt>
        <dd>{`Active, ${targeting}`}</dd>
        <dt>Channels, in order</dt>
        <dd>{campaign.channels.map((c) => CAMPAIGN_CHANNEL_LABELS[c] ?? c).join(', ')}</dd>
        <dt>At most</dt>
        <dd>{`${campaign.throttlePerMinute.toLocaleString('en-US')} requests per minute`}</dd>
        <dt>Starts</dt>
        <dd>{campaign.scheduledAt ? formatDateTime(campaign.scheduledAt, timeZone) : 'When launched'}</dd>
        {campaign.completedAt ? (
          <>
            <dt>Completed</dt>
            <dd>{formatDateTime(campaign.completedAt, timeZone)}</dd>
          </>
        ) : null}
      </dl>

      {campaign.intents.length > 0 ? (
        <div className="button-row">
          {campaign.intents.map((intent) => (
            <Form method="post" key={intent}>
              <input type="hidden" name="intent" value={intent} />
              <button className={intent === 'launch' || intent === 'resume' ? 'button' : 'button button--secondary'} type="submit" disabled={busy}>
                {INTENT_LABELS[intent]}
              </button>
            </Form>
          ))}
        </div>
      ) : null}

      {preview ? (
        <section aria-labelledby="preview-title">
          <h2 id="preview-title">Preview</h2>
          <p className="campaign-count">{`${preview.reachable.toLocaleString('en-US')} ${preview.reachable === 1 ? 'patient' : 'patients'} would be asked if it started now.`}</p>
          {preview.unreachable > 0 ? (
            <p>{`${preview.unreachable.toLocaleString('en-US')} more match but cannot be reached on these channels (suppressed, or no confirmed address or number), so they are left out.`}</p>
          ) : null}
          <p>The list is made when the campaign starts, so it may change a little until then.</p>
          {showSamples && samples ? (
            <>
              <CampaignSamples rows={samples} caption="A few of them" timeZone={timeZone} />
              <p>
                <Link to={`/admin/${slug}/campaigns/${campaign.id}/recipients`}>See more sample recipients</Link>
              </p>
            </>
          ) : (
            <p>Your role sees counts only, never who the patients are.</p>
          )}
        </section>
      ) : null}

      {campaign.status === 'scheduled' || (campaign.status === 'paused' && !results) ? (
        <p>{`The list of recipients is made when the campaign starts${campaign.scheduledAt ? `, at ${formatDateTime(campaign.scheduledAt, timeZone)}` : ', in a few seconds'}. Nobody has been asked yet.`}</p>
      ) : null}

      {results ? (
        <section aria-labelledby="progress-title">
          <h2 id="progress-title">Progress</h2>
          <p>
            <label htmlFor="campaign-progress">{`${pct}% done: ${results.done.toLocaleString('en-US')} of ${results.targeted.toLocaleString('en-US')} requests decided`}</label>
          </p>
          <progress id="campaign-progress" className="campaign-progress" max={100} value={pct}>{`${pct}%`}</progress>
          <ul className="campaign-counts">
            <li>{`Waiting to be sent: ${results.waiting.toLocaleString('en-US')}`}</li>
            <li>{`With the send engine: ${results.inEngine.toLocaleString('en-US')}${results.deferred > 0 ? ` (${results.deferred.toLocaleString('en-US')} deferred, for example by quiet hours)` : ''}`}</li>
            <li>{`Sent: ${results.sent.toLocaleString('en-US')}`}</li>
            <li>{`Blocked: ${results.blocked.toLocaleString('en-US')}`}</li>
            <li>{`Failed: ${results.failed.toLocaleString('en-US')}`}</li>
            {results.cancelled > 0 ? <li>{`Not asked (cancelled): ${results.cancelled.toLocaleString('en-US')}`}</li> : null}
          </ul>

          <h2 id="results-title">Results</h2>
          {/* Drawn by recharts on the server (no script, no inline style); the table below has the same figures. */}
          {chart ? <div className="campaign-chart" dangerouslySetInnerHTML={{ __html: chart }} /> : null}
          <table className="access-table" aria-describedby="results-title">
            <caption>Results funnel</caption>
            <thead>
              <tr>
                <th scope="col">Stage</th>
                <th scope="col">Patients</th>
              </tr>
            </thead>
            <tbody>
              {stages.map((s) => (
                <tr key={s.label}>
                  <th scope="row">{s.label}</th>
                  <td>{s.count.toLocaleString('en-US')}</td>
                </tr>
              ))}
              {results.blockedByReason.map((b) => (
                <tr key={b.reason}>
                  <th scope="row">{`Blocked: ${reasonLabel(b.reason)}`}</th>
                  <td>{b.count.toLocaleString('en-US')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>Renewed counts patients who renewed the topic after their request was sent. No response is sent minus renewed.</p>
        </section>
      ) : null}
    </main>
  );
}
