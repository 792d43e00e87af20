// One topic: its text versions, the draft editor with a field per required element (AV3, and AV2 for a paid topic), a
// preview drawn by the patient's own component (exactly what the patient reads), publishing, retiring and discarding.
// A published version is shown read-only; the server refuses to change it, and so does the database (migration 0006).
// Reading needs 'topics' or 'texts'; topic changes need 'topics', text changes need 'texts' (checked per intent).
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams, type ShouldRevalidateFunction } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { AuthorizationTextView } from '../components/consent';
import { TableScroll } from '../components/table-scroll';
import { ErrorSummary } from '../components/error-summary';
import { Field, FormError } from '../components/field';
import { TextareaField } from '../components/textarea-field';
import { can, forbidden, requireAdmin, type AdminCapability } from '../services/all.server';
import {
  discardDraft,
  draftInputFrom,
  ELEMENTS,
  getTopic,
  organisationTimeZone,
  patientTextOf,
  retireText,
  retireTopic,
  saveAndPublish,
  saveDraft,
  textSections,
  textsOfTopic,
  topicInputFrom,
  updateTopic,
  type DraftField,
  type TopicField,
} from '../services/all.server';
import { redirectTo } from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction<typeof loader> = ({ data: d }) => [{ title: `${d ? d.topic.name : 'Topic'} · Topics and texts · Carepost admin` }];

async function signedInWithTopic({ request, params, context }: LoaderFunctionArgs) {
  const signedIn = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now: new Date() });
  if (!can(signedIn.admin.role, 'topics') && !can(signedIn.admin.role, 'texts')) throw forbidden();
  // EN3: another organisation's topic id, or a malformed one, is simply not found.
  const topic = await getTopic(context.db, signedIn.org.id, params.topicId ?? '');
  if (!topic) throw data({ reason: 'unknown_topic' }, { status: 404 });
  return { ...signedIn, topic };
}

export async function loader(args: LoaderFunctionArgs) {
  const { org, admin, topic } = await signedInWithTopic(args);
  const { context, request } = args;
  const [texts, timeZone] = await Promise.all([textsOfTopic(context.db, org.id, topic.id), organisationTimeZone(context.db, org.id)]);
  const wanted = new URL(request.url).searchParams.get('version');
  const draft = texts.find((t) => t.status === 'draft');
  const latestPublished = texts.find((t) => t.status === 'published');
  const selected = texts.find((t) => t.id === wanted) ?? draft ?? latestPublished ?? texts[0];
  // A new draft starts from the newest published wording, so a revision is an edit rather than a retype.
  const starter = !draft ? (latestPublished ?? texts[0]) : undefined;
  return {
    slug: org.slug,
    timeZone,
    // The required elements in reading order, with their headings and what each must say (server/consent/texts.ts).
    elementFields: ELEMENTS.filter((e) => e.key !== 'remuneration' || topic.remunerated),
    canEditTopic: can(admin.role, 'topics'),
    canEditTexts: can(admin.role, 'texts'),
    topic: {
      id: topic.id,
      key: topic.key,
      name: topic.name,
      description: topic.description,
      remunerated: topic.remunerated,
      thirdPartyName: topic.thirdPartyName,
      retiredAt: topic.retiredAt?.toISOString() ?? null,
    },
    versions: texts.map((t) => ({ id: t.id, version: t.version, language: t.language, status: t.status, publishedAt: t.publishedAt?.toISOString() ?? null, contentHash: t.contentHash })),
    draft: draft ? { id: draft.id, version: draft.version, elements: draft.elements, validForMonths: draft.validForMonths } : null,
    starter: starter ? { elements: starter.elements, validForMonths: starter.validForMonths, version: starter.version } : null,
    selected: selected
      ? {
          id: selected.id,
          version: selected.version,
          status: selected.status,
          publishedAt: selected.publishedAt?.toISOString() ?? null,
          contentHash: selected.contentHash,
          validForMonths: selected.validForMonths,
          text: textSections(patientTextOf(topic, selected)),
        }
      : null,
  };
}

type Errors = Partial<Record<DraftField | TopicField | 'form', string>>;

// A refused publish still saved the draft (it keeps what was typed), so the page reloads its versions even after a 400.
export const shouldRevalidate: ShouldRevalidateFunction = ({ formMethod, defaultShouldRevalidate }) => (formMethod === 'POST' ? true : defaultShouldRevalidate);

const INTENT_CAPABILITY: Record<string, AdminCapability> = {
  'topic-update': 'topics',
  'topic-retire': 'topics',
  'draft-save': 'texts',
  'draft-publish': 'texts',
  'draft-discard': 'texts',
  'text-retire': 'texts',
};

export async function action(args: ActionFunctionArgs) {
  const { org, admin, topic } = await signedInWithTopic(args);
  const { request, context } = args;
  const form = await request.formData();
  const intent = String(form.get('intent') ?? '');
  const capability = INTENT_CAPABILITY[intent];
  if (!capability) return data({ intent, errors: { form: 'Unknown action.' } as Errors }, { status: 400 });
  if (!can(admin.role, capability)) throw forbidden();
  const base = `/admin/${org.slug}/topics/${topic.id}`;
  const actor = { adminId: admin.id };
  const textId = String(form.get('textId') ?? '') || undefined;
  const now = new Date();
  switch (intent) {
    case 'topic-update': {
      const input = topicInputFrom(form);
      const result = await updateTopic(context.db, { orgId: org.id, topicId: topic.id, input, actor });
      if (result.status === 'invalid') return data({ intent, errors: result.fieldErrors as Errors }, { status: 400 });
      if (result.status === 'not_found') throw data({ reason: 'unknown_topic' }, { status: 404 });
      throw redirectTo(`${base}?updated=1`);
    }
    case 'topic-retire': {
      await retireTopic(context.db, { orgId: org.id, topicId: topic.id, actor, now });
      throw redirectTo(`${base}?retired=topic`);
    }
    case 'draft-save':
    case 'draft-publish': {
      const input = draftInputFrom(form);
      const options = { orgId: org.id, topicId: topic.id, textId, input, actor, now };
      const result = intent === 'draft-save' ? await saveDraft(context.db, options) : await saveAndPublish(context.db, options);
      switch (result.status) {
        case 'saved':
          throw redirectTo(`${base}?version=${result.text.id}&saved=1`);
        case 'published':
          throw redirectTo(`${base}?version=${result.text.id}&published=1`);
        case 'invalid':
          return data(
            {
              intent,
              errors: {
                ...result.fieldErrors,
                form:
                  intent === 'draft-publish'
                    ? 'Not published. The draft is saved; fix the problems below, then publish again.'
                    : 'Not saved. Fix the problems below.',
              } as Errors,
            },
            { status: 400 },
          );
        case 'not_draft':
          return data({ intent, errors: { form: 'That version is published, so it can no longer change. Start a new draft instead.' } as Errors }, { status: 409 });
        default:
          return data({ intent, errors: { form: 'That draft no longer exists: it may have been published or discarded by someone else. Reload the page.' } as Errors }, { status: 409 });
      }
    }
    case 'draft-discard': {
      const outcome = await discardDraft(context.db, { orgId: org.id, topicId: topic.id, textId: textId ?? '', actor });
      if (outcome === 'not_found') return data({ intent, errors: { form: 'That draft no longer exists. Reload the page.' } as Errors }, { status: 409 });
      throw redirectTo(`${base}?discarded=1`);
    }
    default: {
      const outcome = await retireText(context.db, { orgId: org.id, topicId: topic.id, textId: textId ?? '', actor });
      if (outcome === 'not_found') return data({ intent, errors: { form: 'Only a published version can be retired.' } as Errors }, { status: 409 });
      throw redirectTo(`${base}?version=${textId}&retired=text`);
    }
  }
}

const STATUS_WORDS: Record<string, string> = { draft: 'Draft', published: 'Published', retired: 'Retired' };

function Notice() {
  const [params] = useSearchParams();
  const message = params.get('created')
    ? 'Topic created. Write its first authorisation text below.'
    : params.get('saved')
      ? 'Draft saved. The preview below shows exactly what patients will see.'
      : params.get('published')
        ? 'Published. Patients who sign for this topic from now on sign this version.'
        : params.get('updated')
          ? 'Topic saved.'
          : params.get('discarded')
            ? 'Draft discarded.'
            : params.get('retired') === 'text'
              ? 'Version retired. Patients are no longer offered it; authorisations already signed on it stay valid until they end.'
              : params.get('retired') === 'topic'
                ? 'Topic retired. Patients are no longer offered it and marketing on it is blocked.'
                : null;
  return message ? (
    <p className="notice" role="status">
      {message}
    </p>
  ) : null;
}

export default function TopicPage() {
  const { slug, timeZone, elementFields, canEditTopic, canEditTexts, topic, versions, draft, starter, selected } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Errors = result?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const draftSummary = useRef<HTMLDivElement>(null);
  const topicSummary = useRef<HTMLDivElement>(null);
  const draftIntent = result?.intent === 'draft-save' || result?.intent === 'draft-publish';
  const topicIntent = result?.intent === 'topic-update';
  useEffect(() => {
    if (!result?.errors) return;
    (topicIntent ? topicSummary : draftSummary).current?.focus();
  }, [result, topicIntent]);

  const draftErrors = draftIntent ? errors : {};
  const draftList = [...elementFields.map((e) => e.key as DraftField), 'validForMonths' as const]
    .filter((k) => draftErrors[k])
    .map((k) => ({ field: k, message: draftErrors[k]! }));
  const topicErrors = topicIntent ? errors : {};
  const topicList = (['name', 'description', 'remunerated', 'thirdPartyName'] as const).filter((k) => topicErrors[k]).map((k) => ({ field: k, message: topicErrors[k]! }));
  const editing = draft ?? (canEditTexts ? { id: null, version: null, elements: starter?.elements ?? {}, validForMonths: starter?.validForMonths ?? 24 } : null);
  const showingDraft = selected?.status === 'draft';
  const elementValues = (editing?.elements ?? {}) as Record<string, string | undefined>;

  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <p>
        <Link to={`/admin/${slug}/topics`}>Back to topics</Link>
      </p>
      <h1>{topic.name}</h1>
      <Notice />
      <dl className="facts">
        <div>
          <dt>Key</dt>
          <dd>
            <code>{topic.key}</code>
          </dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>{topic.retiredAt ? `Retired ${formatDateTime(topic.retiredAt, timeZone)}` : 'Offered to patients when a version is published'}</dd>
        </div>
        <div>
          <dt>Payment</dt>
          <dd>{topic.remunerated ? `Paid for by ${topic.thirdPartyName}: every text must say so (AV2)` : 'No third party pays'}</dd>
        </div>
      </dl>
      <p>
        <Link to={`/admin/${slug}/topics/${topic.id}/translations`}>Texts in other languages (Spanish)</Link>
      </p>
      {!topicIntent && !draftIntent && errors.form ? <FormError message={errors.form} /> : null}

      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        {versions.length === 0 ? (
          <p>No versions yet.</p>
        ) : (
          <TableScroll label="Text versions">
            <table className="data-table">
              <caption className="visually-hidden">Text versions of this topic, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Published</th>
                  <th scope="col">SHA-256</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.id} aria-current={selected?.id === v.id ? 'true' : undefined}>
                    <th scope="row">
                      {selected?.id === v.id ? (
                        `Version ${v.version} (shown below)`
                      ) : (
                        <Link to={`?version=${v.id}`} aria-label={`Show version ${v.version}`}>{`Version ${v.version}`}</Link>
                      )}
                    </th>
                    <td>{STATUS_WORDS[v.status]}</td>
                    <td>{v.publishedAt ? formatDateTime(v.publishedAt, timeZone) : '—'}</td>
                    <td>{v.contentHash ? <code title={v.contentHash}>{`${v.contentHash.slice(0, 12)}…`}</code> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>

      {selected && !showingDraft ? (
        <section aria-labelledby="version-title">
          <h2 id="version-title">{`Version ${selected.version}: ${STATUS_WORDS[selected.status]!.toLowerCase()}, read-only`}</h2>
          <p>
            {`Published ${formatDateTime(selected.publishedAt!, timeZone)}. Lasts ${selected.validForMonths} months from signing. A published version never changes; to change the wording, edit the draft.`}
          </p>
          <p className="hash">
            SHA-256: <code>{selected.contentHash}</code>
          </p>
          <h3>What patients see</h3>
          <AuthorizationTextView text={selected.text} id="version-text-title" />
          {canEditTexts && selected.status === 'published' ? (
            <Form method="post" className="danger-zone">
              <input type="hidden" name="textId" value={selected.id} />
              <p>
                Retiring stops offering this version. If an older published version remains, patients are offered that one instead. Authorisations already signed on
                it stay valid until they expire or are revoked.
              </p>
              <button className="button button--secondary" type="submit" name="intent" value="text-retire" disabled={busy}>
                {`Retire version ${selected.version}`}
              </button>
            </Form>
          ) : null}
        </section>
      ) : null}

      {editing ? (
        <section aria-labelledby="draft-title">
          <h2 id="draft-title">{draft ? `Draft version ${draft.version}` : 'New draft'}</h2>
          {!draft && starter ? <p>{`Starts from the wording of version ${starter.version}. Nothing changes for patients until you publish.`}</p> : null}
          {!draft && !starter ? <p>Write each part in plain language. Nothing is shown to patients until you publish.</p> : null}
          {draft && !showingDraft ? (
            <p>
              <Link to={`?version=${draft.id}`}>Show the preview of this draft</Link>
            </p>
          ) : null}
          {canEditTexts ? (
            <>
              <ErrorSummary ref={draftSummary} errors={draftList} intro={draftErrors.form} />
              {draftIntent && draftList.length === 0 && draftErrors.form ? <FormError message={draftErrors.form} /> : null}
              <Form method="post" noValidate key={draft?.id ?? 'new'}>
                {draft ? <input type="hidden" name="textId" value={draft.id} /> : null}
                {elementFields.map((e) => (
                  <TextareaField
                    key={e.key}
                    id={e.key}
                    label={e.key === 'remuneration' ? `${e.heading} (required: ${topic.thirdPartyName} pays)` : e.heading}
                    hint={e.missing}
                    error={draftErrors[e.key]}
                    defaultValue={elementValues[e.key] ?? ''}
                    rows={3}
                    maxLength={2000}
                  />
                ))}
                <Field
                  id="validForMonths"
                  label="How many months a signed permission lasts"
                  hint="From 1 to 120. Shown to patients at the end of the text."
                  error={draftErrors.validForMonths}
                  defaultValue={String(editing.validForMonths)}
                  inputMode="numeric"
                  autoComplete="off"
                  maxLength={3}
                />
                <div className="button-row">
                  <button className="button button--secondary" type="submit" name="intent" value="draft-save" disabled={busy}>
                    Save draft
                  </button>
                  <button className="button" type="submit" name="intent" value="draft-publish" disabled={busy}>
                    Publish
                  </button>
                </div>
              </Form>
              {draft ? (
                <Form method="post" className="danger-zone">
                  <input type="hidden" name="textId" value={draft.id} />
                  <button className="button button--secondary" type="submit" name="intent" value="draft-discard" disabled={busy}>
                    Discard this draft
                  </button>
                </Form>
              ) : null}
            </>
          ) : (
            <p>Your role can read texts but not change them.</p>
          )}
          {showingDraft && selected ? (
            <section aria-labelledby="preview-title" className="preview">
              <h3 id="preview-title">Preview: exactly what patients will see</h3>
              <p className="muted">This is the saved draft. Save again to update it.</p>
              <AuthorizationTextView text={selected.text} id="preview-text-title" />
            </section>
          ) : null}
        </section>
      ) : null}

      {canEditTopic ? (
        <section aria-labelledby="topic-settings-title">
          <h2 id="topic-settings-title">Topic settings</h2>
          <ErrorSummary ref={topicSummary} errors={topicList} />
          <Form method="post" noValidate>
            <Field id="name" label="Name patients see" error={topicErrors.name} defaultValue={topic.name} autoComplete="off" maxLength={120} />
            <TextareaField id="description" label="Description" error={topicErrors.description} defaultValue={topic.description} rows={3} maxLength={500} />
            <fieldset className="choices" aria-describedby={topicErrors.remunerated ? 'remunerated-error' : undefined}>
              <legend>Payment</legend>
              {topicErrors.remunerated ? (
                <p id="remunerated-error" className="field__error">
                  <span className="visually-hidden">Error: </span>
                  {topicErrors.remunerated}
                </p>
              ) : null}
              <label className="choice">
                <input id="remunerated" type="checkbox" name="remunerated" value="yes" defaultChecked={topic.remunerated} />A third party pays for this marketing
              </label>
            </fieldset>
            <Field id="thirdPartyName" label="Who pays (if paid)" error={topicErrors.thirdPartyName} defaultValue={topic.thirdPartyName ?? ''} autoComplete="organization" maxLength={120} />
            <button className="button button--secondary" type="submit" name="intent" value="topic-update" disabled={busy}>
              Save topic
            </button>
          </Form>
          {!topic.retiredAt ? (
            <Form method="post" className="danger-zone">
              <p>Retiring the topic stops offering it to patients, and the send engine blocks marketing on it. Records already signed are kept.</p>
              <button className="button button--secondary" type="submit" name="intent" value="topic-retire" disabled={busy}>
                Retire this topic
              </button>
            </Form>
          ) : null}
        </section>
      ) : null}
    </main>
  );
}
