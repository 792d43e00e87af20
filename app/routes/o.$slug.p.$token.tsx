import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { LinkDoesNotWork } from '../components/consent';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { choicesOf, LINK_PAUSE_DAYS, lowerPreferences, openPatientLink, patientPreferencesOf, revokeAuthorization, type Lowering } from '../services/all.server';
import { redirectTo, requireOrganisation } from '../services/all.server';
import { channelWord, statusText, type StatusView } from '../utils/consent-words';
import { pageT } from '../services/all.server';
import { topicTranslationsOf } from '../services/all.server';
import { formatDate, metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// The preference link an organisation puts in its mail. Without signing in, the patient sees their choices and can
// only lower them: switch a channel off, pause, revoke, stop. Anything that widens goes through sign-in. The link is
// never a login, and the page shows no name, contact detail or message.
// The language is the browser's (Accept-Language) or the switcher's cookie: the visitor is not signed in.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('plink.metaTitle') }, { name: 'robots', content: 'noindex' }];

async function open(args: LoaderFunctionArgs) {
  const { params, context } = args;
  const org = await requireOrganisation(context.db, params.slug);
  const now = new Date();
  const opened = await openPatientLink(context.db, context.links.keyring, { purpose: 'preferences', orgId: org.id, token: params.token ?? '', now });
  if (!opened.ok) context.logger.info({ reason: opened.reason }, 'preference link refused');
  return { org, now, patientId: opened.ok ? opened.claims.patientId : undefined };
}

export async function loader(args: LoaderFunctionArgs) {
  const { org, now, patientId } = await open(args);
  if (!patientId) return data({ ok: false as const, orgName: org.name, slug: org.slug }, { status: 404 });
  const { locale, t } = pageT(args.request, args.context);
  const [choices, prefs, words] = await Promise.all([
    choicesOf(args.context.db, org.id, patientId, now),
    patientPreferencesOf(args.context.db, org.id, patientId),
    topicTranslationsOf(args.context.db, org.id, locale),
  ]);
  const tz = prefs.timeZone;
  return {
    ok: true as const,
    orgName: org.name,
    slug: org.slug,
    pauseDays: [...LINK_PAUSE_DAYS],
    stopped: prefs.marketingStoppedAt !== null,
    pausedUntil: prefs.marketingPausedUntil && prefs.marketingPausedUntil > now ? formatDate(prefs.marketingPausedUntil, locale, tz) : null,
    topics: choices.map((c) => ({
      id: c.topic.id,
      key: c.topic.key,
      name: words.get(c.topic.id)?.name ?? c.topic.name,
      // Not translated by the organisation: the original (English) name, marked as such for screen readers.
      untranslated: locale !== 'en' && !words.has(c.topic.id),
      active: c.status.kind === 'active',
      signable: c.signable,
      status: statusText(JSON.parse(JSON.stringify(c.status)) as StatusView, tz, t, locale),
      channels: (c.status.kind === 'active' ? c.status.channels.filter((ch) => c.preference.channels.includes(ch)) : []).map((ch) => ({ key: ch, word: channelWord(ch, t).toLowerCase() })),
      pausedUntil: c.preference.frequency === 'paused' && c.preference.pausedUntil && c.preference.pausedUntil > now ? formatDate(c.preference.pausedUntil, locale, tz) : null,
    })),
  };
}

export async function action(args: ActionFunctionArgs) {
  const { request, context } = args;
  const { org, now, patientId } = await open(args);
  const { t } = pageT(request, context);
  if (!patientId) return data({ message: t('plink.broken'), error: true }, { status: 404 });
  const form = await request.formData();
  const intent = String(form.get('intent') ?? '');
  const topicId = String(form.get('topicId') ?? '');
  const days = Number(form.get('days'));
  // Widening is never done through a link: sign in first, then come back to the full page.
  if (intent === 'widen') throw redirectTo(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${org.slug}/preferences`)}`);
  if (intent === 'grant') {
    const key = String(form.get('topicKey') ?? '');
    const target = /^[a-z0-9][a-z0-9_-]{0,62}$/.test(key) ? `/o/${org.slug}/choices/${key}/sign` : `/o/${org.slug}/choices`;
    throw redirectTo(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(target)}`);
  }
  if (intent === 'revoke') {
    const result = await revokeAuthorization(context.db, {
      orgId: org.id,
      patientId,
      topicId,
      evidence: { method: 'link', verifiedAt: now.toISOString(), ipAddress: context.clientIp, userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null, via: 'link' },
      now,
    }).catch(() => ({ status: 'not_active' as const }));
    return result.status === 'revoked' ? { message: t('plink.revoked'), error: false } : data({ message: t('plink.noActive'), error: true }, { status: 400 });
  }
  const change: Lowering | undefined =
    intent === 'channel_off'
      ? { kind: 'channel_off', topicId, channel: String(form.get('channel') ?? '') as never }
      : intent === 'pause_topic'
        ? { kind: 'pause_topic', topicId, days }
        : intent === 'pause_all'
          ? { kind: 'pause_all', days }
          : intent === 'stop_all'
            ? { kind: 'stop_all' }
            : undefined;
  if (!change || (('topicId' in change) && !/^[0-9a-f-]{36}$/i.test(topicId))) return data({ message: t('plink.notAvailable'), error: true }, { status: 400 });
  const result = await lowerPreferences(context.db, { orgId: org.id, patientId, change, via: 'link', now });
  switch (result.status) {
    case 'lowered':
      return { message: t(change.kind === 'stop_all' ? 'plink.allStopped' : change.kind === 'channel_off' ? 'plink.channelOff' : 'plink.paused'), error: false };
    case 'already':
      return { message: t('plink.already'), error: false };
    default:
      return data({ message: t('plink.notAvailable'), error: true }, { status: 400 });
  }
}

export default function PreferenceLink() {
  const page = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  if (!page.ok) {
    return <LinkDoesNotWork slug={page.slug} orgName={page.orgName} />;
  }
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('plink.title', { org: page.orgName })}</h1>
      <div role={result?.error ? 'alert' : 'status'} className={result ? (result.error ? 'form-error' : 'notice') : undefined}>
        {result?.message ?? null}
      </div>
      <p>{t('plink.intro')}</p>
      <Form method="post">
        <input type="hidden" name="intent" value="widen" />
        <button className="button button--secondary" type="submit">
          {t('plink.widen')}
        </button>
      </Form>
      <section className="card" aria-labelledby="all-heading">
        <h2 id="all-heading">{t('plink.all')}</h2>
        {page.stopped ? <p>{t('plink.allStopped')}</p> : page.pausedUntil ? <p>{t('plink.allPaused', { date: page.pausedUntil })}</p> : null}
        {!page.stopped ? (
          <div className="button-row">
            {page.pauseDays.map((d) => (
              <Form method="post" key={d}>
                <input type="hidden" name="intent" value="pause_all" />
                <input type="hidden" name="days" value={d} />
                <button className="button button--secondary" type="submit" disabled={busy}>
                  {t('plink.pauseAll', { days: d })}
                </button>
              </Form>
            ))}
            <Form method="post">
              <input type="hidden" name="intent" value="stop_all" />
              <button className="button" type="submit" disabled={busy}>
                {t('plink.stopAll')}
              </button>
            </Form>
          </div>
        ) : null}
      </section>
      <ul className="topic-list">
        {page.topics.map((topic) => (
          <li key={topic.id} className="card">
            <h2 lang={topic.untranslated ? 'en' : undefined}>{topic.name}</h2>
            <p className={`status status--${topic.active ? 'active' : 'revoked'}`}>
              <strong>{topic.status}</strong>
              {topic.pausedUntil ? <span>{t('plink.topicPaused', { date: topic.pausedUntil })}</span> : null}
            </p>
            {topic.active ? (
              <>
                {topic.channels.length > 0 ? (
                  <div className="button-row">
                    {topic.channels.map((c) => (
                      <Form method="post" key={c.key}>
                        <input type="hidden" name="intent" value="channel_off" />
                        <input type="hidden" name="topicId" value={topic.id} />
                        <input type="hidden" name="channel" value={c.key} />
                        <button className="button button--secondary" type="submit" disabled={busy}>
                          {t('plink.stopBy', { channel: c.word })}
                        </button>
                      </Form>
                    ))}
                  </div>
                ) : null}
                <div className="button-row">
                  <Form method="post">
                    <input type="hidden" name="intent" value="pause_topic" />
                    <input type="hidden" name="topicId" value={topic.id} />
                    <input type="hidden" name="days" value={90} />
                    <button className="button button--secondary" type="submit" disabled={busy}>
                      {t('plink.pause90')}
                    </button>
                  </Form>
                  <Form method="post">
                    <input type="hidden" name="intent" value="revoke" />
                    <input type="hidden" name="topicId" value={topic.id} />
                    <button className="button" type="submit" disabled={busy} aria-label={t('plink.revokeLabel', { topic: topic.name })}>
                      {t('plink.revoke')}
                    </button>
                  </Form>
                </div>
              </>
            ) : topic.signable ? (
              <Form method="post">
                <input type="hidden" name="intent" value="grant" />
                <input type="hidden" name="topicKey" value={topic.key} />
                <button className="button button--secondary" type="submit" aria-label={t('plink.grantLabel', { topic: topic.name })}>
                  {t('plink.grant')}
                </button>
              </Form>
            ) : null}
          </li>
        ))}
      </ul>
    </main>
  );
}
