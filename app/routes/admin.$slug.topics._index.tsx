// Topics and their authorisation texts (issue 8, part 4): each topic with its current published version and status.
// Roles with 'topics' (create and edit topics) or 'texts' (draft and publish texts) may read this list.
import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { TableScroll } from '../components/table-scroll';
import { can, forbidden, requireAdmin } from '../services/all.server';
import { listTopics, organisationTimeZone } from '../services/all.server';
import { formatDate } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Topics and texts · Carepost admin' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now: new Date() });
  if (!can(admin.role, 'topics') && !can(admin.role, 'texts')) throw forbidden();
  const [topics, timeZone] = await Promise.all([listTopics(context.db, org.id), organisationTimeZone(context.db, org.id)]);
  return {
    slug: org.slug,
    canCreate: can(admin.role, 'topics'),
    timeZone,
    topics: topics.map((t) => ({ ...t, retiredAt: t.retiredAt?.toISOString() ?? null, currentPublishedAt: t.currentPublishedAt?.toISOString() ?? null })),
  };
}

function statusOf(t: { retiredAt: string | null; currentVersion: number | null; hasDraft: boolean }): string {
  if (t.retiredAt) return 'Retired';
  if (t.currentVersion === null) return t.hasDraft ? 'Draft only: patients cannot sign yet' : 'No text yet';
  return t.hasDraft ? 'Live, with a draft in progress' : 'Live';
}

export default function Topics() {
  const { slug, canCreate, timeZone, topics } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <h1>Topics and texts</h1>
      <p>
        A topic is one marketing purpose patients can give permission for. Each has versioned authorisation texts: patients sign the newest published version,
        and a published version never changes.
      </p>
      {canCreate ? (
        <p>
          <Link className="button" to={`/admin/${slug}/topics/new`}>
            New topic
          </Link>
        </p>
      ) : null}
      {topics.length === 0 ? (
        <p>There are no topics yet.</p>
      ) : (
        <TableScroll label="Topics">
          <table className="data-table">
            <caption>{`${topics.length} ${topics.length === 1 ? 'topic' : 'topics'}`}</caption>
            <thead>
              <tr>
                <th scope="col">Topic</th>
                <th scope="col">Key</th>
                <th scope="col">Current text</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {topics.map((t) => (
                <tr key={t.id}>
                  <th scope="row">
                    <Link to={`/admin/${slug}/topics/${t.id}`}>{t.name}</Link>
                    {t.remunerated ? <span className="tag">{' Paid by a third party'}</span> : null}
                  </th>
                  <td>
                    <code>{t.key}</code>
                  </td>
                  <td>{t.currentVersion !== null ? `Version ${t.currentVersion}, published ${formatDate(t.currentPublishedAt!, timeZone)}` : 'None published'}</td>
                  <td>{statusOf(t)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </main>
  );
}
