import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { LinkDoesNotWork } from '../components/consent';
import { useLoaderData } from '@remix-run/react';
import { choicesOf, openPatientLink } from '../services/consent.server';
import { requireOrganisation } from '../services/identity.server';
import { CHANNEL_LABELS } from '../utils/consent-words';

// The page behind an unsubscribe link. GET and HEAD change nothing (EM2): link scanners open every link in a mail.
// The button posts to the same address, where the one-click handler (server/http/unsubscribe.ts) does the work.
export const meta: MetaFunction = () => [{ title: 'Unsubscribe · Carepost' }, { name: 'robots', content: 'noindex' }];

export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const now = new Date();
  const opened = await openPatientLink(context.db, context.links.keyring, { purpose: 'unsubscribe', orgId: org.id, token: params.token ?? '', now });
  const topicId = opened.ok ? opened.claims.context.topicId : undefined;
  const channel = opened.ok ? opened.claims.context.channel : undefined;
  const choice = opened.ok && topicId ? (await choicesOf(context.db, org.id, opened.claims.patientId, now)).find((c) => c.topic.id === topicId) : undefined;
  if (!opened.ok || !choice || !channel) {
    context.logger.info({ reason: opened.ok ? 'unknown_topic' : opened.reason }, 'unsubscribe link refused');
    return data({ ok: false as const, orgName: org.name, slug: org.slug }, { status: 404 });
  }
  return {
    ok: true as const,
    orgName: org.name,
    slug: org.slug,
    topicName: choice.topic.name,
    channel: (CHANNEL_LABELS[channel] ?? channel).toLowerCase(),
    done: !choice.preference.channels.includes(channel as never),
  };
}

export default function Unsubscribe() {
  const page = useLoaderData<typeof loader>();
  if (!page.ok) {
    return <LinkDoesNotWork slug={page.slug} orgName={page.orgName} />;
  }
  return (
    <main id="main" className="page" tabIndex={-1}>
      {page.done ? (
        <>
          <h1>You are unsubscribed</h1>
          <p role="status">
            {page.orgName} will not send you “{page.topicName}” by {page.channel} any more. Messages about your care are not affected.
          </p>
        </>
      ) : (
        <>
          <h1>Unsubscribe</h1>
          <p>
            Stop “{page.topicName}” from {page.orgName} by {page.channel}? Messages about your care are not affected.
          </p>
          {/* A plain form: it posts to the one-click handler, which needs no cookie and works without JavaScript. */}
          <form method="post">
            <input type="hidden" name="List-Unsubscribe" value="One-Click" />
            <button className="button" type="submit">
              Unsubscribe
            </button>
          </form>
        </>
      )}
    </main>
  );
}
