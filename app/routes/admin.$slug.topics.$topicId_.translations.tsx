// A topic's texts in another language (issue 9, item 3): the name and description patients see, and the translation
// of the published text version patients are offered. A text translation is rendered, hashed and stored once; the
// database refuses any change to it (migration 0021), so a patient's signed record keeps meaning what they read.
// Reading needs 'topics' or 'texts'; the name and description need 'topics', a text translation needs 'texts'.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { AuthorizationTextView } from '../components/consent';
import { ErrorSummary } from '../components/error-summary';
import { Field, FormError } from '../components/field';
import { TextareaField } from '../components/textarea-field';
import { can, forbidden, requireAdmin } from '../services/all.server';
import {
  addTextTranslation,
  AUTHORIZATION_WORDS,
  ELEMENTS,
  getTopic,
  LOCALE_NAMES,
  LOCALES,
  organisationTimeZone,
  saveTopicTranslation,
  textSections,
  toLocale,
  topicTranslationsOf,
  translationsOfTopic,
} from '../services/all.server';
import { redirectTo } from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction<typeof loader> = ({ data: d }) => [{ title: `${d ? `${d.languageName}: ${d.topic.name}` : 'Translations'} · Topics and texts · Carepost admin` }];

type Intent = 'topic-translation' | 'text-translation';
type Errors = Partial<Record<string, string>>;

async function signedInWithTopic({ request, params, context }: LoaderFunctionArgs) {
  const signedIn = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now: new Date() });
  if (!can(signedIn.admin.role, 'topics') && !can(signedIn.admin.role, 'texts')) throw forbidden();
  // EN3: another organisation's topic id, or a malformed one, is simply not found.
  const topic = await getTopic(context.db, signedIn.org.id, params.topicId ?? '');
  if (!topic) throw data({ reason: 'unknown_topic' }, { status: 404 });
  // The languages besides English that patients can choose; the first is shown unless ?lang= names another.
  const locale = toLocale(new URL(request.url).searchParams.get('lang')) ?? LOCALES.find((l) => l !== 'en')!;
  if (locale === 'en') throw data({ reason: 'unknown_language' }, { status: 404 });
  return { ...signedIn, topic, locale };
}

export async function loader(args: LoaderFunctionArgs) {
  const { org, admin, topic, locale } = await signedInWithTopic(args);
  const { context } = args;
  const [{ topic: words, texts }, timeZone] = await Promise.all([translationsOfTopic(context.db, org.id, topic.id, locale), organisationTimeZone(context.db, org.id)]);
  const newest = texts[0];
  const headings = AUTHORIZATION_WORDS[locale].headings;
  return {
    slug: org.slug,
    locale,
    languageName: LOCALE_NAMES[locale],
    canEditTopic: can(admin.role, 'topics'),
    canEditTexts: can(admin.role, 'texts'),
    topic: { id: topic.id, name: topic.name, description: topic.description },
    words,
    // The version patients are offered, to translate when it has no translation yet: each part the original has,
    // with its heading in both languages.
    toTranslate:
      newest && !newest.translation
        ? {
            id: newest.text.id,
            version: newest.text.version,
            parts: ELEMENTS.filter((e) => newest.text.elements[e.key]?.trim()).map((e) => ({
              key: e.key,
              heading: e.heading,
              translatedHeading: headings[e.key],
              original: newest.text.elements[e.key]!.trim(),
            })),
          }
        : null,
    versions: texts.map(({ text, translation }) => ({
      id: text.id,
      version: text.version,
      translation: translation
        ? { contentHash: translation.contentHash, createdAt: translation.createdAt.toISOString(), text: textSections(translation.body) }
        : null,
    })),
    timeZone,
  };
}

export async function action(args: ActionFunctionArgs) {
  const { org, admin, topic, locale } = await signedInWithTopic(args);
  const { request, context } = args;
  const form = await request.formData();
  const intent = String(form.get('intent') ?? '') as Intent;
  const base = `/admin/${org.slug}/topics/${topic.id}/translations?lang=${locale}`;
  const now = new Date();
  if (intent === 'topic-translation') {
    if (!can(admin.role, 'topics')) throw forbidden();
    const result = await saveTopicTranslation(context.db, {
      orgId: org.id,
      topicId: topic.id,
      locale,
      name: String(form.get('name') ?? ''),
      description: String(form.get('description') ?? ''),
      actor: { adminId: admin.id },
      now,
    });
    if (result.status === 'invalid') return data({ intent, errors: result.fieldErrors as Errors }, { status: 400 });
    if (result.status === 'not_found') throw data({ reason: 'unknown_topic' }, { status: 404 });
    throw redirectTo(`${base}&saved=topic`);
  }
  if (intent === 'text-translation') {
    if (!can(admin.role, 'texts')) throw forbidden();
    const words = (await topicTranslationsOf(context.db, org.id, locale, [topic.id])).get(topic.id);
    if (!words) return data({ intent, errors: { form: 'Give the topic its name in this language first: the text’s title uses it.' } as Errors }, { status: 409 });
    const elements = Object.fromEntries(ELEMENTS.map((e) => [e.key, String(form.get(e.key) ?? '').trim()]).filter(([, v]) => v));
    const result = await addTextTranslation(context.db, {
      orgId: org.id,
      textId: String(form.get('textId') ?? ''),
      locale,
      topicName: words.name,
      elements,
      actor: { type: 'admin', id: admin.id },
      now,
    });
    switch (result.status) {
      case 'added':
        throw redirectTo(`${base}&saved=text`);
      case 'invalid':
        return data({ intent, errors: { ...result.fieldErrors, form: result.fieldErrors.form ?? 'Not saved. Fix the problems below.' } as Errors }, { status: 400 });
      case 'exists':
        return data({ intent, errors: { form: 'That version already has a translation in this language, and a translation never changes. Reload the page.' } as Errors }, { status: 409 });
      default:
        return data({ intent, errors: { form: 'Only a published version can be translated. Reload the page.' } as Errors }, { status: 409 });
    }
  }
  return data({ intent: 'unknown' as const, errors: { form: 'Unknown action.' } as Errors }, { status: 400 });
}

function Notice() {
  const [params] = useSearchParams();
  const saved = params.get('saved');
  const message = saved === 'topic' ? 'Name and description saved.' : saved === 'text' ? 'Translation added. Patients who read this language now sign it.' : null;
  return message ? (
    <p className="notice" role="status">
      {message}
    </p>
  ) : null;
}

export default function TopicTranslationsPage() {
  const { slug, locale, languageName, canEditTopic, canEditTexts, topic, words, toTranslate, versions, timeZone } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const topicSummary = useRef<HTMLDivElement>(null);
  const textSummary = useRef<HTMLDivElement>(null);
  const topicErrors: Errors = result?.intent === 'topic-translation' ? result.errors : {};
  const textErrors: Errors = result?.intent === 'text-translation' ? result.errors : {};
  useEffect(() => {
    if (!result?.errors) return;
    (result.intent === 'topic-translation' ? topicSummary : textSummary).current?.focus();
  }, [result]);
  const topicList = (['name', 'description'] as const).filter((k) => topicErrors[k]).map((k) => ({ field: `translated-${k}`, message: topicErrors[k]! }));
  const textList = (toTranslate?.parts ?? []).filter((p) => textErrors[p.key]).map((p) => ({ field: p.key, message: textErrors[p.key]! }));

  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <p>
        <Link to={`/admin/${slug}/topics/${topic.id}`}>{`Back to ${topic.name}`}</Link>
      </p>
      <h1>{`${languageName}: ${topic.name}`}</h1>
      <Notice />
      <p>
        Patients who read this language see these words. Where a translation is missing they see the English original, and the page tells them so.
      </p>
      {result?.intent === 'unknown' ? <FormError message={result.errors.form} /> : null}

      <section aria-labelledby="topic-words-title">
        <h2 id="topic-words-title">Name and description</h2>
        <dl className="facts">
          <div>
            <dt>English name</dt>
            <dd>{topic.name}</dd>
          </div>
          <div>
            <dt>English description</dt>
            <dd>{topic.description || '—'}</dd>
          </div>
        </dl>
        {canEditTopic ? (
          <>
            <ErrorSummary ref={topicSummary} errors={topicList} intro={topicList.length === 0 ? undefined : topicErrors.form} />
            {topicList.length === 0 && topicErrors.form ? <FormError message={topicErrors.form} /> : null}
            <Form method="post" noValidate>
              <Field id="translated-name" name="name" lang={locale} label={`Name in ${languageName}`} error={topicErrors.name} defaultValue={words?.name ?? ''} autoComplete="off" maxLength={120} />
              <TextareaField
                id="translated-description"
                name="description"
                lang={locale}
                label={`Description in ${languageName}`}
                error={topicErrors.description}
                defaultValue={words?.description ?? ''}
                rows={3}
                maxLength={500}
              />
              <button className="button button--secondary" type="submit" name="intent" value="topic-translation" disabled={busy}>
                Save name and description
              </button>
            </Form>
          </>
        ) : words ? (
          <p lang={locale}>{`${words.name}: ${words.description}`}</p>
        ) : (
          <p>Not translated yet.</p>
        )}
      </section>

      <section aria-labelledby="text-translation-title">
        <h2 id="text-translation-title">Authorisation text</h2>
        {versions.length === 0 ? <p>No version is published yet. Publish the English text first; then translate it here.</p> : null}
        {toTranslate ? (
          canEditTexts ? (
            <>
              <p>{`Version ${toTranslate.version}, the one patients are offered, has no translation yet. Translate each part the original has; the title and headings are added in ${languageName} for you. Once added, a translation never changes: to change it, publish a new English version and translate that.`}</p>
              {!words ? <p>Give the topic its name in this language first: the text’s title uses it.</p> : null}
              <ErrorSummary ref={textSummary} errors={textList} intro={textList.length === 0 ? undefined : textErrors.form} />
              {textList.length === 0 && textErrors.form ? <FormError message={textErrors.form} /> : null}
              <Form method="post" noValidate>
                <input type="hidden" name="textId" value={toTranslate.id} />
                {toTranslate.parts.map((part) => (
                  <div key={part.key} className="translation-part">
                    <h3 id={`${part.key}-original-title`}>{part.heading}</h3>
                    <blockquote aria-labelledby={`${part.key}-original-title`}>
                      <p>{part.original}</p>
                    </blockquote>
                    <TextareaField id={part.key} lang={locale} label={`${part.translatedHeading} (${languageName})`} error={textErrors[part.key]} rows={3} maxLength={2000} />
                  </div>
                ))}
                <button className="button" type="submit" name="intent" value="text-translation" disabled={busy || !words}>
                  {`Add the ${languageName} translation`}
                </button>
              </Form>
            </>
          ) : (
            <p>{`Version ${toTranslate.version} has no translation yet. Your role can read texts but not translate them.`}</p>
          )
        ) : null}
        {versions
          .filter((v) => v.translation)
          .map((v) => (
            <section key={v.id} aria-labelledby={`translation-${v.version}-title`}>
              <h3 id={`translation-${v.version}-title`}>{`Version ${v.version} in ${languageName}`}</h3>
              <p>{`Added ${formatDateTime(v.translation!.createdAt, timeZone)}. It never changes.`}</p>
              <p className="hash">
                SHA-256: <code>{v.translation!.contentHash}</code>
              </p>
              <AuthorizationTextView text={v.translation!.text} id={`translation-${v.version}-text`} lang={locale} />
            </section>
          ))}
      </section>
    </main>
  );
}
