import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { Pager, pageOf } from '../components/pager';
import { patientPreferencesOf } from '../services/all.server';
import { listInbox, requireReader } from '../services/all.server';
import { formatDateTime, metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// The secure inbox (issue 6, item 3): messages handed off to the signed-in patient in this organisation (EN3), newest
// first. Subjects are health information, so the page needs the organisation's pickup level (OT5) and is never cached (PW1).
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('inbox.metaTitle') }];

const PAGE_SIZE = 25;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const url = new URL(request.url);
  const { org, reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: url.pathname });
  const page = pageOf(url);
  const { locale } = pageT(request, context);
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
      atText: formatDateTime(m.createdAt, locale, prefs.timeZone),
    })),
  };
}

export default function Inbox() {
  const { slug, orgName, page, hasNext, unread, items } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/messages`;
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('layout.nav.messages')}</h1>
      <p>
        {`${t('inbox.intro', { org: orgName })} ${unread === 0 ? t('inbox.allRead') : t('inbox.unread', { count: unread })} ${t('inbox.seeWho')} `}
        <Link to={`${base}/access`}>{t('inbox.accessLink')}</Link>.
      </p>
      {items.length === 0 ? (
        page === 1 ? (
          <p>{t('inbox.none')}</p>
        ) : (
          <p>
            {`${t('inbox.emptyPage')} `}
            <Link to={base}>{t('inbox.newest')}</Link>
          </p>
        )
      ) : (
        <ol className="inbox" aria-label={page === 1 ? t('inbox.listLabel') : t('inbox.listLabelPage', { page })}>
          {items.map((m) => (
            <li key={m.id} className={`inbox__item${m.read || m.state !== 'available' ? '' : ' inbox__item--unread'}`}>
              <Link to={`${base}/${m.id}`} className="inbox__link">
                <span className="inbox__subject">
                  {m.state === 'available' ? m.subject : t(m.state === 'expired' ? 'inbox.expired' : 'inbox.withdrawn')}
                  {m.state === 'available' && !m.read ? <span className="inbox__badge">{t('inbox.unreadBadge')}</span> : null}
                </span>
                <span className="inbox__meta muted">
                  <time dateTime={m.at}>{m.atText}</time>
                  {m.attachments > 0 ? ` · ${t('inbox.attachments', { count: m.attachments })}` : ''}
                </span>
              </Link>
            </li>
          ))}
        </ol>
      )}
      <Pager base={base} page={page} hasNext={hasNext} label={t('inbox.pages')} newer={t('inbox.newer')} older={t('inbox.older')} pageWord={(n) => t('inbox.page', { page: n })} />
    </main>
  );
}
