import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { readMail } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction<typeof loader> = ({ data: d }) => [{ title: `${d?.mail.subject ?? 'Mail'} · Dev mailbox` }];

export async function loader({ params, context }: LoaderFunctionArgs) {
  if (context.config.isProduction) throw data({ reason: 'not_found' }, { status: 404 });
  const mail = await readMail(context.config.dataDir, params.id ?? '');
  if (!mail) throw data({ reason: 'not_found' }, { status: 404 });
  return { mail: { ...mail, receivedAt: mail.receivedAt.toISOString() } };
}

export default function DevMailView() {
  const { mail } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <p>
        <Link to="/dev/mail">Back to the dev mailbox</Link>
      </p>
      <h1>{mail.subject}</h1>
      <p className="muted">
        From {mail.from} to {mail.to.join(', ')}. <a href={`/dev/mail/${mail.id}/raw`}>View raw source</a>
      </p>
      <h2>Text</h2>
      <div className="mail-body" data-testid="mail-text">
        {mail.text || '(no text part)'}
      </div>
      {mail.attachments.length > 0 ? (
        <>
          <h2>Attachments</h2>
          <ul>
            {mail.attachments.map((a, i) => (
              <li key={i}>
                {a.filename} ({a.contentType}, {a.size} bytes)
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>Headers</h2>
      <dl className="mail-headers">
        {mail.headers.map((h, i) => (
          <div key={i}>
            <dt>{h.name}</dt>
            <dd>{h.value}</dd>
          </div>
        ))}
      </dl>
    </main>
  );
}
