import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { CampaignSamples } from '../components/campaign-samples';
import { can, requireAdmin } from '../services/all.server';
import { getCampaign, orgTimeZone, sampleRecipients, sampleTargets } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// Sample recipients of a campaign, by name: only roles with 'campaign_recipients' (owner, compliance). The marketer
// gets a 403 here and never sees a patient's name anywhere (issue 8, roles).
export const meta: MetaFunction = () => [{ title: 'Sample recipients · Carepost admin' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'campaign_recipients', now });
  const campaign = await getCampaign(context.db, { orgId: org.id, campaignId: params.id ?? '' });
  if (!campaign) throw data({ reason: 'unknown_campaign' }, { status: 404 });
  const rows = campaign.targetedAt ? await sampleRecipients(context.db, { orgId: org.id, campaignId: campaign.id }) : await sampleTargets(context.db, campaign, now, 20);
  return {
    slug: org.slug,
    name: campaign.name,
    id: campaign.id,
    targeted: campaign.targetedAt !== null,
    canOpenCampaign: can(admin.role, 'campaigns'),
    timeZone: await orgTimeZone(context.db, org.id),
    rows: rows.map((r) => ({ ...r, expiresAt: r.expiresAt.toISOString() })),
  };
}

export default function CampaignRecipients() {
  const { slug, name, id, targeted, canOpenCampaign, timeZone, rows } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{`Sample recipients: ${name}`}</h1>
      <p>{targeted ? 'Up to 20 of the patients this campaign asked or will ask.' : 'Up to 20 of the patients the campaign would ask if it started now.'}</p>
      <CampaignSamples rows={rows} caption="Sample recipients" timeZone={timeZone} />
      {canOpenCampaign ? (
        <p>
          <Link to={`/admin/${slug}/campaigns/${id}`}>Back to the campaign</Link>
        </p>
      ) : null}
    </main>
  );
}
