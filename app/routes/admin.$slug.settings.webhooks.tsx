// Webhook endpoints (issue 7) managed by the owner: register (the signing secret is shown once), disable, read the
// delivery log of an endpoint and send a delivery again with the same webhook-id.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import {
  checkWebhookUrl,
  createWebhookEndpoint,
  disableWebhookEndpoint,
  listWebhookEndpoints,
  replayWebhookDelivery,
  requireAdmin,
  WEBHOOK_EVENT_TYPES,
  webhookLog,
} from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Webhooks · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now: new Date() });
  const endpoints = await listWebhookEndpoints(context.db, org.id);
  const chosen = new URL(request.url).searchParams.get('endpoint');
  const endpoint = endpoints.find((e) => e.id === chosen);
  const log = endpoint ? await webhookLog(context.db, { orgId: org.id, endpointId: endpoint.id, limit: 25 }) : [];
  return {
    slug: org.slug,
    eventTypes: [...WEBHOOK_EVENT_TYPES],
    endpoints: endpoints.map((e) => ({ id: e.id, url: e.url, eventTypes: e.eventTypes, createdAt: e.createdAt.toISOString(), disabled: e.disabledAt !== null })),
    log: endpoint
      ? {
          endpointUrl: endpoint.url,
          deliveries: log.map((d) => ({
            id: d.id,
            eventType: d.eventType,
            status: d.status,
            attempts: d.attempts,
            lastStatusCode: d.lastStatusCode,
            createdAt: d.createdAt.toISOString(),
            deliveredAt: d.deliveredAt?.toISOString() ?? null,
          })),
        }
      : null,
  };
}

type ActionResult = { fieldErrors: Record<string, string>; form?: string; message?: string; secret?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  const form = await request.formData();
  const actor = { type: 'admin', id: admin.id } as const;
  const intent = String(form.get('intent') ?? '');
  if (intent === 'disable') {
    const done = await disableWebhookEndpoint(context.db, { orgId: org.id, endpointId: String(form.get('endpointId') ?? ''), actor, now });
    if (!done) return data<ActionResult>({ fieldErrors: {}, form: 'That is not an active endpoint of this organisation.' }, { status: 404 });
    return data<ActionResult>({ fieldErrors: {}, message: 'The endpoint is disabled. No more events are sent to it.' });
  }
  if (intent === 'replay') {
    const row = await replayWebhookDelivery(context.db, { orgId: org.id, deliveryId: String(form.get('deliveryId') ?? '') });
    if (!row) return data<ActionResult>({ fieldErrors: {}, form: 'That delivery is not in this organisation’s log.' }, { status: 404 });
    return data<ActionResult>({ fieldErrors: {}, message: 'The delivery is queued again, with the same webhook-id.' });
  }
  const fieldErrors: Record<string, string> = {};
  const url = checkWebhookUrl(String(form.get('url') ?? ''), !context.config.isProduction);
  if (!url.ok) fieldErrors.url = url.message;
  const eventTypes = form.getAll('eventTypes').map(String);
  if (eventTypes.length === 0) fieldErrors.eventTypes = 'Choose at least one event.';
  else if (eventTypes.some((t) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(t))) fieldErrors.eventTypes = 'Choose events from the list.';
  if (!url.ok || Object.keys(fieldErrors).length > 0) return data<ActionResult>({ fieldErrors, form: 'No endpoint was added. Please fix the problems below.' }, { status: 400 });
  const { secret } = await createWebhookEndpoint(context.db, context.vault, { orgId: org.id, url: url.url, eventTypes, actor, now });
  return data<ActionResult>({ fieldErrors: {}, secret });
}

export default function Webhooks() {
  const { slug, endpoints, eventTypes, log } = useLoaderData<typeof loader>();
  const result = useActionData<ActionResult>();
  const errors = result?.fieldErrors ?? {};
  const busy = useNavigation().state === 'submitting';
  const focusTarget = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) focusTarget.current?.focus();
  }, [result]);
  return (
    <main id="main" tabIndex={-1}>
      <h1>Webhooks</h1>
      <p>Events are signed the Standard Webhooks way and retried with backoff. Delivery is at least once: drop duplicates by webhook-id.</p>
      <div ref={focusTarget} tabIndex={-1}>
        <FormError message={result?.form} />
        {result?.message ? (
          <p className="notice" role="status">
            {result.message}
          </p>
        ) : null}
        {result?.secret ? (
          <section className="card" aria-labelledby="secret-heading">
            <h2 id="secret-heading">Copy the signing secret now</h2>
            <p>This is the only time it is shown. Your endpoint uses it to check the webhook-signature header.</p>
            <p className="secret-once" data-testid="webhook-secret">
              {result.secret}
            </p>
          </section>
        ) : null}
      </div>

      <Form method="post" noValidate className="card" aria-labelledby="add-heading">
        <h2 id="add-heading">Add an endpoint</h2>
        <input type="hidden" name="intent" value="create" />
        <Field id="url" label="Endpoint URL" hint="https only." type="url" error={errors.url} maxLength={2000} autoComplete="off" spellCheck={false} />
        <fieldset className="choices" aria-describedby={errors.eventTypes ? 'eventTypes-error' : undefined}>
          <legend>Send these events</legend>
          {errors.eventTypes ? (
            <p id="eventTypes-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.eventTypes}
            </p>
          ) : null}
          {eventTypes.map((t) => (
            <label key={t} className="choice">
              <input type="checkbox" name="eventTypes" value={t} />
              <code>{t}</code>
            </label>
          ))}
        </fieldset>
        <button className="button" type="submit" disabled={busy}>
          Add endpoint
        </button>
      </Form>

      <h2>Endpoints</h2>
      {endpoints.length === 0 ? (
        <p>No endpoints yet.</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.map((e) => (
              <tr key={e.id}>
                <td>{e.url}</td>
                <td>{e.eventTypes.join(', ')}</td>
                <td>{e.disabled ? 'Disabled' : `Active since ${formatDateTime(e.createdAt)}`}</td>
                <td>
                  <Link to={`/admin/${slug}/settings/webhooks?endpoint=${e.id}`} aria-label={`Delivery log for ${e.url}`}>
                    Delivery log
                  </Link>
                  {e.disabled ? null : (
                    <Form method="post" className="inline-form">
                      <input type="hidden" name="intent" value="disable" />
                      <input type="hidden" name="endpointId" value={e.id} />
                      <button className="button button--secondary" type="submit" aria-label={`Disable ${e.url}`}>
                        Disable
                      </button>
                    </Form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {log ? (
        <section aria-labelledby="log-heading">
          <h2 id="log-heading">{`Recent deliveries to ${log.endpointUrl}`}</h2>
          {log.deliveries.length === 0 ? (
            <p>Nothing has been sent to this endpoint yet.</p>
          ) : (
            <table className="data-table">
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Created</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last response</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {log.deliveries.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <code>{d.eventType}</code>
                    </td>
                    <td>{formatDateTime(d.createdAt)}</td>
                    <td>{d.status === 'delivered' && d.deliveredAt ? `Delivered ${formatDateTime(d.deliveredAt)}` : d.status === 'failed' ? 'Gave up' : 'Waiting'}</td>
                    <td>{d.attempts}</td>
                    <td>{d.lastStatusCode ?? '—'}</td>
                    <td>
                      <Form method="post">
                        <input type="hidden" name="intent" value="replay" />
                        <input type="hidden" name="deliveryId" value={d.id} />
                        <button className="button button--secondary" type="submit" aria-label={`Send ${d.eventType} of ${formatDateTime(d.createdAt)} again`}>
                          Send again
                        </button>
                      </Form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </main>
  );
}
