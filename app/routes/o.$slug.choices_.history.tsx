import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { consentHistory, patientPreferencesOf } from '../services/consent.server';
import { requirePatient } from '../services/identity.server';
import { formatDate, formatDateTime, listChannels } from '../utils/consent-words';

// AU3: every consent event of the signed-in patient, newest first.
export const meta: MetaFunction = () => [{ title: 'History of your choices · Carepost' }];

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

const KIND_WORDS: Record<string, string> = { granted: 'You gave permission', renewed: 'You renewed permission', revoked: 'You revoked permission', expired: 'Permission expired' };

export default function ConsentHistory() {
  const { slug, events, timeZone } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>History of your choices</h1>
      <p>
        Every time you gave, renewed or took back a permission, and every time one ran out. <Link to={`/o/${slug}/choices`}>Back to my choices</Link>
      </p>
      {events.length === 0 ? (
        <p>You have not given any permission yet.</p>
      ) : (
        <ol className="timeline" aria-label="Consent events, newest first">
          {events.map((e) => (
            <li key={e.id}>
              <strong>
                {KIND_WORDS[e.kind]}: {e.topicName}
              </strong>
              <br />
              <span className="muted">{formatDateTime(e.occurredAt, timeZone)}</span>
              {e.kind === 'granted' || e.kind === 'renewed' ? (
                <>
                  <br />
                  By {listChannels(e.channels)}, until {e.expiresAt ? formatDate(e.expiresAt, timeZone) : ''}.{' '}
                  <Link to={`/o/${slug}/choices/record/${e.id}`}>Copy of what you signed</Link>
                </>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </main>
  );
}
