import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { patientPreferencesOf } from '../services/all.server';
import { accessHistory, requireReader, sessionRef, subjectsOf } from '../services/all.server';
import { formatDateTime, metaT, useT } from '../i18n';
import { pageT } from '../services/all.server';
import { deviceWords, verificationWords } from '../utils/message-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// AU3: every open of the patient's messages and attachments in this organisation, newest first: when, which
// message, on which device, verified how. The organisation sees the same record.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('access.metaTitle') }];

const LIMIT = 200;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const url = new URL(request.url);
  const { org, reader } = await requireReader({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now, returnTo: url.pathname });
  const [rows, prefs] = await Promise.all([
    accessHistory(context.db, { orgId: org.id, patientId: reader.patientId, limit: LIMIT }),
    patientPreferencesOf(context.db, org.id, reader.patientId),
  ]);
  const subjects = await subjectsOf(context.db, context.vault, { orgId: org.id, patientId: reader.patientId, messageIds: rows.map((r) => r.messageId), now });
  const thisSession = sessionRef(reader.sessionIdHash);
  const { locale, t } = pageT(request, context);
  return {
    slug: org.slug,
    orgName: org.name,
    limited: rows.length === LIMIT,
    rows: rows.map((r, i) => ({
      key: `${r.at.toISOString()}-${i}`,
      at: r.at.toISOString(),
      atText: formatDateTime(r.at, locale, prefs.timeZone),
      messageId: r.messageId,
      subject: subjects.get(r.messageId) ?? null,
      what: r.attachmentId ? t('access.anAttachment') : t('access.theMessage'),
      device: deviceWords(r.device, t),
      method: verificationWords(r.verificationMethod, t),
      thisSession: r.sessionRef === thisSession,
    })),
  };
}

export default function AccessHistory() {
  const { slug, orgName, rows, limited } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/messages`;
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <p>
        <Link to={base}>{t('message.all')}</Link>
      </p>
      <h1>{t('access.title')}</h1>
      <p>
        {`${t('access.intro', { org: orgName })} `}
        <Link to={`/o/${slug}/account`}>{t('access.accountLink')}</Link>
        {` ${t('access.introEnd', { org: orgName })}`}
      </p>
      {rows.length === 0 ? (
        <p>{t('access.none')}</p>
      ) : (
        <table className="access-table">
          <caption>{limited ? t('access.latest', { count: rows.length }) : t('access.newestFirst')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('access.when')}</th>
              <th scope="col">{t('access.message')}</th>
              <th scope="col">{t('access.what')}</th>
              <th scope="col">{t('access.device')}</th>
              <th scope="col">{t('access.verifiedWith')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <td>
                  <time dateTime={r.at}>{r.atText}</time>
                </td>
                <td>{r.subject !== null ? <Link to={`${base}/${r.messageId}`}>{r.subject}</Link> : t('access.gone')}</td>
                <td>{r.what}</td>
                <td>{r.thisSession ? t('access.thisDevice', { device: r.device }) : r.device}</td>
                <td>{r.method}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
