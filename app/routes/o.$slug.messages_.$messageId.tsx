import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation, type ShouldRevalidateFunction } from '@remix-run/react';
import { useEffect, useRef, useState } from 'react';
import { FormError } from '../components/field';
import { patientPreferencesOf } from '../services/all.server';
import { notFound } from '../services/all.server';
import { accessHistory, MAX_REPLY_LENGTH, openMessage, replyToMessage, REPLY_LIMIT, requireReader, sessionRef } from '../services/all.server';
import { formatDateTime, INTL_LOCALES, metaT, useT } from '../i18n';
import { pageT, translateServerText } from '../services/all.server';
import { deviceWords, fileSizeWords, fileTypeWords, verificationWords } from '../utils/message-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// One secure message (issue 6): opening it is recorded (AU1) and shown back in "Who opened this message" (AU3). The
// sender's HTML is sanitised on the server (CX3) before it reaches this page. Expired and withdrawn messages show
// why, and nothing of their content.
export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: metaT(matches)(data && data.status === 'available' ? 'message.metaTitle' : 'message.metaTitleGone') },
];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const url = new URL(request.url);
  const { org, reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: url.pathname });
  const opened = await openMessage(context.db, context.vault, reader, params.messageId ?? '', now);
  if (opened.status === 'not_found') throw notFound();
  const prefs = await patientPreferencesOf(context.db, org.id, reader.patientId);
  const { locale, t } = pageT(request, context);
  const when = (d: Date) => ({ iso: d.toISOString(), text: formatDateTime(d, locale, prefs.timeZone) });
  if (opened.status !== 'available') {
    return data({ status: opened.status, slug: org.slug, orgName: org.name, sent: when(opened.createdAt) } as const, { status: 410 });
  }
  const history = await accessHistory(context.db, { orgId: org.id, patientId: reader.patientId, messageId: opened.id, limit: 100 });
  const names = new Map(opened.attachments.map((a) => [a.id, a.name]));
  const thisSession = sessionRef(reader.sessionIdHash);
  return {
    status: 'available' as const,
    slug: org.slug,
    orgName: org.name,
    id: opened.id,
    subject: opened.subject,
    text: opened.text,
    safeHtml: opened.safeHtml,
    sent: when(opened.createdAt),
    expires: opened.expiresAt ? when(opened.expiresAt) : null,
    attachments: opened.attachments.map((a) => ({ id: a.id, name: a.name, type: fileTypeWords(a.contentType, t), size: fileSizeWords(a.sizeBytes, t, locale) })),
    replies: opened.replies.map((r) => ({ id: r.id, text: r.text, at: when(r.createdAt) })),
    repliesLeft: Math.max(0, REPLY_LIMIT - opened.replies.length),
    // Server-only modules are not in the browser bundle: the limits travel with the data.
    replyLimit: REPLY_LIMIT,
    maxReplyLength: MAX_REPLY_LENGTH,
    maxReplyLengthText: MAX_REPLY_LENGTH.toLocaleString(INTL_LOCALES[locale]),
    history: history.map((h, i) => ({
      key: `${h.at.toISOString()}-${i}`,
      at: when(h.at),
      what: h.attachmentId ? t('access.attachment', { name: names.get(h.attachmentId) ?? t('access.aFile') }) : t('access.theMessage'),
      device: deviceWords(h.device, t),
      method: verificationWords(h.verificationMethod, t),
      thisSession: h.sessionRef === thisSession,
    })),
  };
}

type ReplyAnswer = { ok: true; reply: { id: string; text: string } } | { ok: false; error: string; field?: boolean };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const url = new URL(request.url);
  const { reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: url.pathname });
  const form = await request.formData();
  const { locale, t } = pageT(request, context);
  if (form.get('intent') !== 'reply') return data<ReplyAnswer>({ ok: false, error: t('common.unknownAction') }, { status: 400 });
  const text = String(form.get('reply') ?? '');
  const result = await replyToMessage(context.db, context.vault, reader, params.messageId ?? '', text, now);
  if (!result.ok) {
    if (result.error === 'not_found') throw notFound();
    return data<ReplyAnswer>({ ok: false, error: translateServerText(locale, result.message), field: result.error === 'invalid' }, { status: result.error === 'invalid' ? 400 : 409 });
  }
  return data<ReplyAnswer>({ ok: true, reply: { id: result.replyId, text: text.trim() } });
}

// Sending a reply is not reading the message again: the page keeps what it has and adds the reply, so the access
// history records opens, not form posts.
export const shouldRevalidate: ShouldRevalidateFunction = ({ formMethod, actionResult, defaultShouldRevalidate }) =>
  formMethod === 'POST' && (actionResult as ReplyAnswer | undefined)?.ok ? false : defaultShouldRevalidate;

export default function MessagePage() {
  const loaded = useLoaderData<typeof loader>();
  const t = useT();
  if (loaded.status !== 'available') {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <p className="no-print">
          <Link to={`/o/${loaded.slug}/messages`}>{t('message.all')}</Link>
        </p>
        <h1>{loaded.status === 'expired' ? t('message.expiredTitle') : t('message.withdrawnTitle')}</h1>
        <p>
          {`${t('message.sentOn', { org: loaded.orgName })} `}
          <time dateTime={loaded.sent.iso}>{loaded.sent.text}</time>
          {`. ${loaded.status === 'expired' ? t('message.expiredBody', { org: loaded.orgName }) : t('message.withdrawnBody', { org: loaded.orgName })}`}
        </p>
      </main>
    );
  }
  return <AvailableMessage message={loaded} />;
}

function AvailableMessage({ message }: { message: Extract<ReturnType<typeof useLoaderData<typeof loader>>, { status: 'available' }> }) {
  const answer = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const t = useT();
  const formRef = useRef<HTMLFormElement>(null);
  // Replies sent from this page view; the loader does not run again after a reply (see shouldRevalidate).
  const [justSent, setJustSent] = useState<{ id: string; text: string }[]>([]);
  const sentReplies = [...message.replies, ...justSent];
  const repliesLeft = Math.max(0, message.repliesLeft - justSent.length);
  const fieldError = answer && !answer.ok && answer.field ? answer.error : undefined;
  useEffect(() => {
    if (!answer?.ok) return;
    const reply = answer.reply;
    setJustSent((sent) => (sent.some((r) => r.id === reply.id) ? sent : [...sent, reply]));
    formRef.current?.reset();
  }, [answer]);
  const base = `/o/${message.slug}/messages`;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <p className="no-print">
        <Link to={base}>{t('message.all')}</Link>
      </p>
      <h1>{message.subject}</h1>
      <p className="message-meta muted">
        {`${t('message.from', { org: message.orgName })} `}
        <time dateTime={message.sent.iso}>{message.sent.text}</time>.
        {message.expires ? (
          <>
            {` ${t('message.readableUntil')} `}
            <time dateTime={message.expires.iso}>{message.expires.text}</time>.
          </>
        ) : null}
      </p>
      <div className="button-row message-actions no-print">
        <button type="button" className="button button--secondary" onClick={() => window.print()}>
          {t('message.print')}
        </button>
      </div>
      <h2 className="visually-hidden">{t('message.heading')}</h2>
      {message.safeHtml !== null ? (
        <div className="message-body" dangerouslySetInnerHTML={{ __html: message.safeHtml }} />
      ) : (
        <div className="message-body message-body--text">{message.text}</div>
      )}

      {message.attachments.length > 0 ? (
        <section aria-labelledby="attachments-heading">
          <h2 id="attachments-heading">{t('message.attachments')}</h2>
          <ul className="attachment-list">
            {message.attachments.map((a) => (
              <li key={a.id}>
                <a href={`${base}/${message.id}/attachments/${a.id}`} download>
                  {a.name}
                </a>{' '}
                <span className="muted">{`(${a.type}, ${a.size})`}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section className="reply-section" aria-labelledby="reply-heading">
        <h2 id="reply-heading">{t('message.replyHeading', { org: message.orgName })}</h2>
        {sentReplies.length > 0 ? (
          <ol className="reply-list" aria-label={t('message.yourReplies')}>
            {sentReplies.map((r) => (
              <li key={r.id}>{r.text}</li>
            ))}
          </ol>
        ) : null}
        {answer?.ok ? (
          <p role="status" className="notice">
            {t('message.replySent', { org: message.orgName })}
          </p>
        ) : null}
        {repliesLeft > 0 ? (
          <Form method="post" noValidate ref={formRef}>
            <input type="hidden" name="intent" value="reply" />
            <FormError message={answer && !answer.ok && !answer.field ? answer.error : undefined} />
            <div className={`field${fieldError ? ' field--error' : ''}`}>
              <label htmlFor="reply">{t('message.replyLabel')}</label>
              <p id="reply-hint" className="field__hint">
                {t('message.replyHint', { count: repliesLeft, max: message.maxReplyLengthText, org: message.orgName })}
              </p>
              {fieldError ? (
                <p id="reply-error" className="field__error">
                  <span className="visually-hidden">{`${t('common.error')} `}</span>
                  {fieldError}
                </p>
              ) : null}
              <textarea
                id="reply"
                name="reply"
                aria-describedby={fieldError ? 'reply-hint reply-error' : 'reply-hint'}
                maxLength={message.maxReplyLength}
                required
                aria-invalid={fieldError ? true : undefined}
              />
            </div>
            <button className="button" type="submit" disabled={busy}>
              {t('message.sendReply')}
            </button>
          </Form>
        ) : (
          <p>{t('message.replyLimit', { count: message.replyLimit, org: message.orgName })}</p>
        )}
      </section>

      <section className="access-section" aria-labelledby="access-heading">
        <h2 id="access-heading">{t('access.messageHeading')}</h2>
        <p>{t('access.messageIntro')}</p>
        <table className="access-table">
          <thead>
            <tr>
              <th scope="col">{t('access.when')}</th>
              <th scope="col">{t('access.what')}</th>
              <th scope="col">{t('access.device')}</th>
              <th scope="col">{t('access.verifiedWith')}</th>
            </tr>
          </thead>
          <tbody>
            {message.history.map((h) => (
              <tr key={h.key}>
                <td>
                  <time dateTime={h.at.iso}>{h.at.text}</time>
                </td>
                <td>{h.what}</td>
                <td>{h.thisSession ? t('access.thisDevice', { device: h.device }) : h.device}</td>
                <td>{h.method}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
