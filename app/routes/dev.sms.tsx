import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { listDevSms } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Dev SMS · Carepost' }];

export async function loader({ context }: LoaderFunctionArgs) {
  // The dev SMS page exists only where the dev SMS sink does.
  if (context.config.isProduction) throw data({ reason: 'not_found' }, { status: 404 });
  const messages = listDevSms(context.config.dataDir);
  return { messages: messages.map((m) => ({ ...m, receivedAt: m.receivedAt.toISOString() })) };
}

export default function DevSms() {
  const { messages } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <h1>Dev SMS</h1>
      <p className="muted">
        Every text message Carepost sent while running locally, newest first. Only outside production.{' '}
        <Link to=".">Refresh</Link> · <Link to="/dev/mail">Dev mailbox</Link>
      </p>
      {messages.length === 0 ? (
        <p>No text messages yet.</p>
      ) : (
        <ul className="mail-list" aria-label="Sent text messages">
          {messages.map((m) => (
            <li key={m.id}>
              <p className="muted">
                To {m.to} · {new Date(m.receivedAt).toLocaleString('en-GB', { timeZone: 'UTC' })} UTC
              </p>
              <p className="mail-body">{m.body}</p>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
