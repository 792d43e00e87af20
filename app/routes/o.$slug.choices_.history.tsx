import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { consentHistory, patientPreferencesOf } from '../services/all.server';
import { requirePatient } from '../services/all.server';
import { channelList } from '../utils/consent-words';
import { formatDate, formatDateTime, metaT, useLocale, useT, type UiKey } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// AU3: every consent event of the signed-in patient, newest first.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('history.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const [events, prefs] = await Promise.all([consentHistory(context.db, org.id, patient.id), patientPreferencesOf(context.db, org.id, patient.id)]);
  return {
    slug: org.slug,
    timeZone: prefs.timeZone,
    events: events.map((e) => ({
      id: e.id,
      kind: e.kind,
      topicName: e.topicName,
      channels: e.channels,
      occurredAt: e.occurredAt.toISOString(),
      expiresAt: e.expiresAt?.toISOString() ?? null,
    })),
  };
}

const KIND_WORDS: Record<string, UiKey> = { granted: 'history.granted', renewed: 'history.renewed', revoked: 'history.revoked', expired: 'history.expired' };

export default function ConsentHistory() {
  const { slug, events, timeZone } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('choices.historyLink')}</h1>
      <p>
        {`${t('history.intro')} `}
        <Link to={`/o/${slug}/choices`}>{t('record.back')}</Link>
      </p>
      {events.length === 0 ? (
        <p>{t('history.none')}</p>
      ) : (
        <ol className="timeline" aria-label={t('history.listLabel')}>
          {events.map((e) => (
            <li key={e.id}>
              <strong>{`${KIND_WORDS[e.kind] ? t(KIND_WORDS[e.kind]!) : e.kind}: ${e.topicName}`}</strong>
              <br />
              <span className="muted">{formatDateTime(e.occurredAt, locale, timeZone)}</span>
              {e.kind === 'granted' || e.kind === 'renewed' ? (
                <>
                  <br />
                  {`${t('history.byUntil', { channels: channelList(e.channels, t, locale), date: e.expiresAt ? formatDate(e.expiresAt, locale, timeZone) : '' })} `}
                  <Link to={`/o/${slug}/choices/record/${e.id}`}>{t('choices.copy')}</Link>
                </>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </main>
  );
}
