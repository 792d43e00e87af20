import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useSearchParams } from '@remix-run/react';
import { choicesOf, patientPreferencesOf } from '../services/all.server';
import { requirePatient } from '../services/all.server';
import { channelList, statusText, type StatusView } from '../utils/consent-words';
import { metaT, useLocale, useT, type UiKey } from '../i18n';
import { pageT } from '../services/all.server';
import { topicTranslationsOf } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// "My choices": every marketing topic and where the patient's authorisation stands, in plain words.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('choices.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const { locale } = pageT(request, context);
  const [choices, prefs, translations] = await Promise.all([
    choicesOf(context.db, org.id, patient.id, now),
    patientPreferencesOf(context.db, org.id, patient.id),
    topicTranslationsOf(context.db, org.id, locale),
  ]);
  return {
    slug: org.slug,
    orgName: org.name,
    timeZone: prefs.timeZone,
    topics: choices.map((c) => ({
      key: c.topic.key,
      // The organisation's own words in the patient's language where it gave them; else the original, marked as such.
      name: translations.get(c.topic.id)?.name ?? c.topic.name,
      description: translations.get(c.topic.id)?.description ?? c.topic.description,
      untranslated: locale !== 'en' && !translations.has(c.topic.id),
      thirdPartyName: c.topic.remunerated ? c.topic.thirdPartyName : null,
      signable: c.signable,
      status: JSON.parse(JSON.stringify(c.status)) as StatusView,
    })),
  };
}

const DONE: Record<string, UiKey> = { revoked: 'choices.done.revoked', granted: 'choices.done.granted', renewed: 'choices.done.renewed' };

export default function MyChoices() {
  const { slug, orgName, topics, timeZone } = useLoaderData<typeof loader>();
  const [search] = useSearchParams();
  const t = useT();
  const locale = useLocale();
  const doneKey = DONE[search.get('done') ?? ''];
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('layout.nav.choices')}</h1>
      {doneKey ? (
        <p className="notice" role="status">
          {t(doneKey)}
        </p>
      ) : null}
      <p>{t('choices.intro', { org: orgName })}</p>
      <p>
        <Link to={`/o/${slug}/preferences`}>{t('choices.howOften')}</Link> · <Link to={`/o/${slug}/choices/history`}>{t('choices.historyLink')}</Link>
      </p>
      <ul className="topic-list">
        {topics.map((topic) => (
          <li key={topic.key} className="card">
            <h2 lang={topic.untranslated ? 'en' : undefined}>{topic.name}</h2>
            <p lang={topic.untranslated ? 'en' : undefined}>{topic.description}</p>
            {topic.untranslated ? <p className="muted">{t('choices.untranslated', { org: orgName })}</p> : null}
            {topic.thirdPartyName ? <p className="muted">{t('choices.pays', { payer: topic.thirdPartyName })}</p> : null}
            <p className={`status status--${topic.status.kind}`}>
              <strong>{statusText(topic.status, timeZone, t, locale)}</strong>
              {topic.status.kind === 'active' ? <span>{t('choices.by', { channels: channelList(topic.status.channels, t, locale) })}</span> : null}
            </p>
            <div className="button-row">
              {topic.status.kind === 'active' ? (
                <>
                  <Link className="button" to={`/o/${slug}/choices/${topic.key}/sign`} aria-label={t('choices.renewLabel', { topic: topic.name })}>
                    {t('choices.renew')}
                  </Link>
                  <Link className="button button--secondary" to={`/o/${slug}/choices/${topic.key}/revoke`} aria-label={t('choices.revokeLabel', { topic: topic.name })}>
                    {t('choices.revoke')}
                  </Link>
                </>
              ) : topic.signable ? (
                <Link className="button" to={`/o/${slug}/choices/${topic.key}/sign`} aria-label={t('choices.giveLabel', { topic: topic.name })}>
                  {t('choices.give')}
                </Link>
              ) : null}
              {topic.status.kind !== 'never' ? (
                <Link to={`/o/${slug}/choices/record/${topic.status.grantEventId}`} aria-label={t('choices.copyLabel', { topic: topic.name })}>
                  {t('choices.copy')}
                </Link>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </main>
  );
}
