import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { Pager, pageOf } from '../components/pager';
import { patientPreferencesOf } from '../services/consent.server';
import { listInbox, requireReader } from '../services/messages.server';
import { formatDateTime } from '../utils/consent-words';
import { STATE_WORDS } from '../utils/message-words';

// The secure inbox (issue 6, item 3): messages handed off to the signed-in patient in this organisation (EN3), newest
// first. Subjects are health information, so the page needs the organisation's pickup level (OT5) and is never cached (PW1).
export const meta: MetaFunction = () => [{ title: 'Secure messages · Carepost' }];

const PAGE_SIZE = 25;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const url = new URL(request.url);
  const { org, reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: url.pathname });
  const page = pageOf(url);
  const [inbox, prefs] = await Promise.all([
    listInbox(context.db, context.vault, { orgId: org.id, patientId: reader.patientId, page, pageSize: PAGE_SIZE, now }),
    patientPreferencesOf(context.db, org.id, reader.patientId),
  ]);
  return {
    slug: org.slug,
    orgName: org.name,
    page,
    hasNext: inbox.hasNext,
    unread: inbox.unread,
    items: inbox.items.map((m) => ({
      id: m.id,
      subject: m.subject,
      state: m.state,
      read: m.read,
      attachments: m.attachments,
      at: m.createdAt.toISOString(),
      atText: formatDateTime(m.createdAt.toISOString(), prefs.timeZone),
    })),
  };
}

export default function Inbox() {
  const { slug, orgName, page, hasNext, unread, items } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/messages`;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Secure messages</h1>
      <p>
        Secure messages from {orgName}. {unread === 0 ? 'You have read them all.' : `${unread} unread.`} You can see{' '}
        <Link to={`${base}/access`}>who opened your messages and when</Link>.
      </p>
      {items.length === 0 ? (
        page === 1 ? (
          <p>You have no secure messages yet.</p>
        ) : (
          <p>
            There are no messages on this page. <Link to={base}>Go to the newest messages</Link>
          </p>
        )
      ) : (
        <ol className="inbox" aria-label={page === 1 ? 'Messages, newest first' : `Messages, newest first, page ${page}`}>
          {items.map((m) => (
            <li key={m.id} className={`inbox__item${m.read || m.state !== 'available' ? '' : ' inbox__item--unread'}`}>
              <Link to={`${base}/${m.id}`} className="inbox__link">
                <span className="inbox__subject">
                  {m.state === 'available' ? m.subject : STATE_WORDS[m.state]}
                  {m.state === 'available' && !m.read ? <span className="inbox__badge">Unread</span> : null}
                </span>
                <span className="inbox__meta muted">
                  <time dateTime={m.at}>{m.atText}</time>
                  {m.attachments > 0 ? ` · ${m.attachments} attachment${m.attachments === 1 ? '' : 's'}` : ''}
                </span>
              </Link>
            </li>
          ))}
        </ol>
      )}
      <Pager base={base} page={page} hasNext={hasNext} label="Pages of messages" noun="messages" />
    </main>
  );
}
