import { type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { patientPreferencesOf } from '../services/consent.server';
import { accessHistory, requireReader, sessionRef, subjectsOf } from '../services/messages.server';
import { formatDateTime } from '../utils/consent-words';
import { verificationWords } from '../utils/message-words';

// AU3: every open of the patient's messages and attachments in this organisation, newest first: when, which
// message, on which device, verified how. The organisation sees the same record.
export const meta: MetaFunction = () => [{ title: 'Who opened your messages · Carepost' }];

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
  return {
    slug: org.slug,
    orgName: org.name,
    limited: rows.length === LIMIT,
    rows: rows.map((r, i) => ({
      key: `${r.at.toISOString()}-${i}`,
      at: r.at.toISOString(),
      atText: formatDateTime(r.at.toISOString(), prefs.timeZone),
      messageId: r.messageId,
      subject: subjects.get(r.messageId) ?? null,
      what: r.attachmentId ? 'An attachment' : 'The message',
      device: r.device,
      method: verificationWords(r.verificationMethod),
      thisSession: r.sessionRef === thisSession,
    })),
  };
}

export default function AccessHistory() {
  const { slug, orgName, rows, limited } = useLoaderData<typeof loader>();
  const base = `/o/${slug}/messages`;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <p>
        <Link to={base}>All messages</Link>
      </p>
      <h1>Who opened your messages</h1>
      <p>
        Every time one of your messages from {orgName}, or one of its attachments, was opened: when, on which device, and how that device was verified. If
        you do not recognise a device, sign out everywhere from your <Link to={`/o/${slug}/account`}>account</Link> and tell {orgName}.
      </p>
      {rows.length === 0 ? (
        <p>None of your messages has been opened yet.</p>
      ) : (
        <table className="access-table">
          <caption>{limited ? `The latest ${rows.length} opens, newest first` : 'Newest first'}</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Message</th>
              <th scope="col">What</th>
              <th scope="col">Device</th>
              <th scope="col">Verified with</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <td>
                  <time dateTime={r.at}>{r.atText}</time>
                </td>
                <td>{r.subject !== null ? <Link to={`${base}/${r.messageId}`}>{r.subject}</Link> : 'A message that is no longer available'}</td>
                <td>{r.what}</td>
                <td>{r.thisSession ? `${r.device} (this device)` : r.device}</td>
                <td>{r.method}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
