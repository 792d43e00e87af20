import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { redirectTo, requireOrganisation, requirePatient } from '../services/all.server';
import { parseSubscription, subscribePush, unsubscribePush } from '../services/all.server';
import { pageT } from '../services/all.server';

// Web push opt-in (issue 9): the preferences page's <PushOptIn> posts the browser's subscription here as JSON. A
// signed-in patient only, for this organisation only (EN3); CX1's same-origin check runs before Remix, as for every POST.
// The other answers are for the page's script, not for people (it shows its own words for each failure), so they
// stay English; the one a patient could meet (push switched off here) is in the page's language.
const MAX_BODY_BYTES = 8 * 1024;

// A resource route answers with a plain Response (Remix's data() keeps its status only for document routes).
const reply = (body: unknown, init: { status?: number; headers?: Record<string, string> } = {}) =>
  Response.json(body, { status: init.status ?? 200, headers: { 'Cache-Control': 'no-store', ...init.headers } });

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  if (request.method !== 'POST') return reply({ error: 'Use POST.' }, { status: 405, headers: { Allow: 'POST' } });
  if (!context.push) return reply({ error: pageT(request, context).t('push.notHere') }, { status: 404 });
  if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) {
    return reply({ error: 'Send JSON.' }, { status: 415 });
  }
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) return reply({ error: 'Too large.' }, { status: 413 });
  let body: { intent?: unknown; subscription?: unknown; endpoint?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
    if (!body || typeof body !== 'object') throw new Error('not an object');
  } catch {
    return reply({ fieldErrors: { body: 'Send a JSON object.' } }, { status: 400 });
  }

  if (body.intent === 'subscribe') {
    const parsed = parseSubscription(body.subscription, { allowLoopbackHttp: !context.config.isProduction });
    if (!parsed.ok) return reply({ fieldErrors: parsed.fieldErrors }, { status: 400 });
    await subscribePush(context.db, context.vault, { orgId: org.id, patientId: patient.id, subscription: parsed.value, now });
    return reply({ subscribed: true });
  }
  if (body.intent === 'unsubscribe') {
    if (typeof body.endpoint !== 'string' || body.endpoint === '' || body.endpoint.length > 2048) {
      return reply({ fieldErrors: { endpoint: 'The endpoint is missing.' } }, { status: 400 });
    }
    // Only this patient's own row goes; another's endpoint is simply not found (no hint that it exists).
    await unsubscribePush(context.db, { orgId: org.id, patientId: patient.id, endpoint: body.endpoint });
    return reply({ subscribed: false });
  }
  return reply({ fieldErrors: { intent: 'Choose subscribe or unsubscribe.' } }, { status: 400 });
}

export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  throw redirectTo(`/o/${org.slug}/preferences`);
}
