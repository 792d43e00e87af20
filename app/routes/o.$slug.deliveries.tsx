import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { Pager, pageOf } from '../components/pager';
import { patientPreferencesOf } from '../services/consent.server';
import { deliveriesForPatient } from '../services/deliveries.server';
import { requirePatient } from '../services/identity.server';
import { formatDateTime } from '../utils/consent-words';
import { deliveryChannelWords, deliveryKindWords, deliveryOutcome } from '../utils/delivery-words';

// "How we reached you" (issue 5, item 9): the signed-in patient's deliveries in this organisation (EN3), newest
// first, in words. Never the content of a message: only its kind, the channel and what became of it.
export const meta: MetaFunction = () => [{ title: 'Messages we sent you · Carepost' }];

const PAGE_SIZE = 50;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const page = pageOf(new URL(request.url));
  const [{ rows, hasNext }, prefs] = await Promise.all([
    deliveriesForPatient(context.db, org.id, patient.id, { page, pageSize: PAGE_SIZE }),
    patientPreferencesOf(context.db, org.id, patient.id),
  ]);
  // Words and dates are made here, in the patient's time zone, so the page hydrates with exactly what was rendered.
  return {
    slug: org.slug,
    page,
    hasNext,
    rows: rows.map((d) => {
      const at = d.sentAt ?? d.createdAt;
      const outcome = deliveryOutcome(d);
      const retryLater = outcome.kind === 'waiting' && d.dueAt.getTime() > now.getTime();
      return {
        id: d.id,
        at: at.toISOString(),
        atText: formatDateTime(at.toISOString(), prefs.timeZone),
        kind: deliveryKindWords(d.category, d.topicName),
        channel: deliveryChannelWords(d.channel),
        outcome,
        retryText: retryLater ? `We will try again after ${formatDateTime(d.dueAt.toISOString(), prefs.timeZone)}.` : null,
      };
    }),
  };
}

export default function MessagesWeSentYou() {
  const { slug, page, hasNext, rows } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/deliveries`;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Messages we sent you</h1>
      <p>
        Each message we sent you or tried to send you: when, which way, and what happened. What a message said is not shown here. Your choices decide what
        we send: <Link to={`/o/${slug}/preferences`}>how we contact you</Link> and <Link to={`/o/${slug}/choices`}>my choices</Link>.
      </p>
      {rows.length === 0 ? (
        page === 1 ? (
          <p>We have not sent you any messages yet.</p>
        ) : (
          <p>
            There are no messages on this page. <Link to={base}>Go to the newest messages</Link>
          </p>
        )
      ) : (
        <ol className="delivery-list" aria-label={page === 1 ? 'Messages, newest first' : `Messages, newest first, page ${page}`}>
          {rows.map((d) => (
            <li key={d.id} className="delivery">
              <p className="delivery__kind">
                <strong>{d.kind}</strong>
              </p>
              <p className="delivery__when muted">
                <time dateTime={d.at}>{d.atText}</time>
              </p>
              <dl className="delivery__facts">
                <div>
                  <dt>Way of contact</dt>
                  <dd>{d.channel}</dd>
                </div>
                <div>
                  <dt>What happened</dt>
                  <dd className={`delivery__outcome delivery__outcome--${d.outcome.kind}`}>
                    {d.retryText ? `${d.outcome.words}. ${d.retryText}` : `${d.outcome.words}.`}
                  </dd>
                </div>
              </dl>
            </li>
          ))}
        </ol>
      )}
      <Pager base={base} page={page} hasNext={hasNext} label="Pages of messages" newer="Newer messages" older="Older messages" />
    </main>
  );
}
