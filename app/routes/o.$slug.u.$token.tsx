import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { LinkDoesNotWork } from '../components/consent';
import { useLoaderData } from '@remix-run/react';
import { choicesOf, openPatientLink } from '../services/all.server';
import { requireOrganisation } from '../services/all.server';
import { channelWord } from '../utils/consent-words';
import { pageT } from '../services/all.server';
import { topicTranslationsOf } from '../services/all.server';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// The page behind an unsubscribe link. GET and HEAD change nothing (EM2): link scanners open every link in a mail.
// The button posts to the same address, where the one-click handler (server/http/unsubscribe.ts) does the work.
// The visitor is not signed in: the language is their browser's (Accept-Language) or the switcher's cookie.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('unsub.metaTitle') }, { name: 'robots', content: 'noindex' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
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
  const { locale, t } = pageT(request, context);
  const words = await topicTranslationsOf(context.db, org.id, locale, [choice.topic.id]);
  return {
    ok: true as const,
    orgName: org.name,
    slug: org.slug,
    topicName: words.get(choice.topic.id)?.name ?? choice.topic.name,
    // Not translated by the organisation: the original (English) name, marked as such for screen readers.
    topicLang: locale !== 'en' && !words.has(choice.topic.id) ? 'en' : undefined,
    channel: channelWord(channel, t).toLowerCase(),
    done: !choice.preference.channels.includes(channel as never),
  };
}

/** A sentence with the topic's name in it, the name in its own element so it can carry its own `lang`. */
function WithTopic({ text, name, lang }: { text: (name: string) => string; name: string; lang?: string }) {
  const [before = '', after = ''] = text('\u0000').split('\u0000');
  return (
    <>
      {before}
      <span lang={lang}>{name}</span>
      {after}
    </>
  );
}

export default function Unsubscribe() {
  const page = useLoaderData<typeof loader>();
  const t = useT();
  if (!page.ok) {
    return <LinkDoesNotWork slug={page.slug} orgName={page.orgName} />;
  }
  return (
    <main id="main" className="page" tabIndex={-1}>
      {page.done ? (
        <>
          <h1>{t('unsub.doneTitle')}</h1>
          <p role="status">
            <WithTopic text={(topic) => t('unsub.done', { org: page.orgName, topic, channel: page.channel })} name={page.topicName} lang={page.topicLang} />
          </p>
        </>
      ) : (
        <>
          <h1>{t('unsub.title')}</h1>
          <p>
            <WithTopic text={(topic) => t('unsub.ask', { org: page.orgName, topic, channel: page.channel })} name={page.topicName} lang={page.topicLang} />
          </p>
          {/* A plain form: it posts to the one-click handler, which needs no cookie and works without JavaScript. */}
          <form method="post">
            <input type="hidden" name="List-Unsubscribe" value="One-Click" />
            <button className="button" type="submit">
              {t('unsub.button')}
            </button>
          </form>
        </>
      )}
    </main>
  );
}
