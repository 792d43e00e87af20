import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { listMail } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Dev mailbox · Carepost' }];

export async function loader({ context }: LoaderFunctionArgs) {
  // The dev mailbox exists only where the embedded mail catcher does.
  if (context.config.isProduction) throw data({ reason: 'not_found' }, { status: 404 });
  const messages = await listMail(context.config.dataDir);
  return { messages: messages.map((m) => ({ ...m, receivedAt: m.receivedAt.toISOString() })) };
}

export default function DevMailbox() {
  const { messages } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <h1>Dev mailbox</h1>
      <p className="muted">
        Every email Carepost sent while running locally, newest first. Only outside production.{' '}
        <Link to=".">Refresh</Link> · <Link to="/dev/sms">Text messages</Link>
      </p>
      {messages.length === 0 ? (
        <p>No mail yet.</p>
      ) : (
        <ul className="mail-list" aria-label="Received mail">
          {messages.map((m) => (
            <li key={m.id}>
              <Link to={`/dev/mail/${m.id}`}>
                <span className="mail-subject">{m.subject}</span>
                <br />
                <span className="muted">
                  To {m.to.join(', ')} · {new Date(m.receivedAt).toLocaleString('en-GB', { timeZone: 'UTC' })} UTC
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
