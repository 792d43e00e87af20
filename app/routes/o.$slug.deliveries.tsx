import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { Pager, pageOf } from '../components/pager';
import { patientPreferencesOf } from '../services/all.server';
import { deliveriesForPatient } from '../services/all.server';
import { requirePatient } from '../services/all.server';
import { channelWord } from '../utils/consent-words';
import { deliveryKindText, deliveryOutcomeText } from '../utils/delivery-words';
import { formatDateTime, metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// "How we reached you" (issue 5, item 9): the signed-in patient's deliveries in this organisation (EN3), newest
// first, in words. Never the content of a message: only its kind, the channel and what became of it.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('deliveries.metaTitle') }];

const PAGE_SIZE = 50;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const page = pageOf(new URL(request.url));
  const { locale, t } = pageT(request, context);
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
      const outcome = deliveryOutcomeText(d, t);
      const retryLater = outcome.kind === 'waiting' && d.dueAt.getTime() > now.getTime();
      return {
        id: d.id,
        at: at.toISOString(),
        atText: formatDateTime(at, locale, prefs.timeZone),
        kind: deliveryKindText(d.category, d.topicName, t),
        channel: channelWord(d.channel, t),
        outcome,
        retryText: retryLater ? t('deliveries.retry', { date: formatDateTime(d.dueAt, locale, prefs.timeZone) }) : null,
      };
    }),
  };
}

export default function MessagesWeSentYou() {
  const { slug, page, hasNext, rows } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/deliveries`;
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('layout.nav.deliveries')}</h1>
      <p>
        {`${t('deliveries.intro')} `}
        <Link to={`/o/${slug}/preferences`}>{t('layout.nav.preferences').toLowerCase()}</Link>
        {` ${t('deliveries.and')} `}
        <Link to={`/o/${slug}/choices`}>{t('deliveries.myChoices')}</Link>.
      </p>
      {rows.length === 0 ? (
        page === 1 ? (
          <p>{t('deliveries.none')}</p>
        ) : (
          <p>
            {`${t('inbox.emptyPage')} `}
            <Link to={base}>{t('inbox.newest')}</Link>
          </p>
        )
      ) : (
        <ol className="delivery-list" aria-label={page === 1 ? t('inbox.listLabel') : t('inbox.listLabelPage', { page })}>
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
                  <dt>{t('deliveries.channel')}</dt>
                  <dd>{d.channel}</dd>
                </div>
                <div>
                  <dt>{t('deliveries.outcome')}</dt>
                  <dd className={`delivery__outcome delivery__outcome--${d.outcome.kind}`}>
                    {d.retryText ? `${d.outcome.words}. ${d.retryText}` : `${d.outcome.words}.`}
                  </dd>
                </div>
              </dl>
            </li>
          ))}
        </ol>
      )}
      <Pager base={base} page={page} hasNext={hasNext} label={t('inbox.pages')} newer={t('inbox.newer')} older={t('inbox.older')} pageWord={(n) => t('inbox.page', { page: n })} />
    </main>
  );
}
