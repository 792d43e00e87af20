import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useSearchParams } from '@remix-run/react';
import { choicesOf, patientPreferencesOf } from '../services/consent.server';
import { requirePatient } from '../services/identity.server';
import { listChannels, statusWords, type StatusView } from '../utils/consent-words';

// "My choices": every marketing topic and where the patient's authorisation stands, in plain words.
export const meta: MetaFunction = () => [{ title: 'My choices · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const [choices, prefs] = await Promise.all([choicesOf(context.db, org.id, patient.id, now), patientPreferencesOf(context.db, org.id, patient.id)]);
  return {
    slug: org.slug,
    orgName: org.name,
    timeZone: prefs.timeZone,
    topics: choices.map((c) => ({
      key: c.topic.key,
      name: c.topic.name,
      description: c.topic.description,
      thirdPartyName: c.topic.remunerated ? c.topic.thirdPartyName : null,
      signable: c.signable,
      status: JSON.parse(JSON.stringify(c.status)) as StatusView,
    })),
  };
}

const DONE: Record<string, string> = {
  revoked: 'Your permission is revoked. It took effect straight away: nothing more will be sent under it.',
  granted: 'Thank you. Your permission is recorded. You can download a copy below.',
  renewed: 'Your permission is renewed. You can download a copy below.',
};

export default function MyChoices() {
  const { slug, orgName, topics, timeZone } = useLoaderData<typeof loader>();
  const [search] = useSearchParams();
  const done = DONE[search.get('done') ?? ''];
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>My choices</h1>
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
      <p>
        {orgName} needs your written permission before it uses your information to send you marketing. Each topic below is a separate permission: you can
        give, take back or renew each one on its own, at any time. Your care never depends on it.
      </p>
      <p>
        <Link to={`/o/${slug}/preferences`}>How and how often we contact you</Link> · <Link to={`/o/${slug}/choices/history`}>History of your choices</Link>
      </p>
      <ul className="topic-list">
        {topics.map((t) => (
          <li key={t.key} className="card">
            <h2>{t.name}</h2>
            <p>{t.description}</p>
            {t.thirdPartyName ? <p className="muted">{t.thirdPartyName} pays us to send these messages.</p> : null}
            <p className={`status status--${t.status.kind}`}>
              <strong>{statusWords(t.status, timeZone)}</strong>
              {t.status.kind === 'active' ? <span>. By {listChannels(t.status.channels)}.</span> : null}
            </p>
            <div className="button-row">
              {t.status.kind === 'active' ? (
                <>
                  <Link className="button" to={`/o/${slug}/choices/${t.key}/sign`} aria-label={`Renew: ${t.name}`}>
                    Renew
                  </Link>
                  <Link className="button button--secondary" to={`/o/${slug}/choices/${t.key}/revoke`} aria-label={`Revoke: ${t.name}`}>
                    Revoke
                  </Link>
                </>
              ) : t.signable ? (
                <Link className="button" to={`/o/${slug}/choices/${t.key}/sign`} aria-label={`Give permission: ${t.name}`}>
                  Give permission
                </Link>
              ) : null}
              {t.status.kind !== 'never' ? (
                <Link to={`/o/${slug}/choices/record/${t.status.grantEventId}`} aria-label={`Copy of what you signed: ${t.name}`}>
                  Copy of what you signed
                </Link>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </main>
  );
}
