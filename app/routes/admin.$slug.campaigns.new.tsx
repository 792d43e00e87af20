import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field } from '../components/field';
import { requireAdmin } from '../services/all.server';
import { CAMPAIGN_CHANNELS, campaignTopics, createCampaign, DEFAULT_THROTTLE, MAX_NAME, orgTimeZone, parseCampaignForm, type CampaignFieldErrors, type CampaignFormInput } from '../services/all.server';
import { redirectTo } from '../services/all.server';
import { CAMPAIGN_CHANNEL_LABELS, CAMPAIGN_KIND_LABELS } from '../utils/campaign-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// A new campaign, saved as a draft: the admin previews and launches it on its own page. Bad input is a 400 with
// every error next to its field and in a summary at the top; nothing is written (STYLE.md, forms).
export const meta: MetaFunction = () => [{ title: 'New renewal campaign · Carepost admin' }];

async function guard({ request, params, context }: LoaderFunctionArgs) {
  return requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'campaigns', now: new Date() });
}

export async function loader(args: LoaderFunctionArgs) {
  const { org } = await guard(args);
  const [topics, timeZone] = await Promise.all([campaignTopics(args.context.db, org.id), orgTimeZone(args.context.db, org.id)]);
  return { slug: org.slug, timeZone, topics: topics.map((t) => ({ id: t.id, name: t.name })), defaultThrottle: DEFAULT_THROTTLE, maxName: MAX_NAME, channels: CAMPAIGN_CHANNELS };
}

const FIELD_ORDER: (keyof CampaignFormInput)[] = ['name', 'kind', 'topicIds', 'expiringWithinDays', 'grantedBefore', 'channels', 'throttlePerMinute', 'scheduleDate', 'scheduleTime'];
/** Where each error's summary link goes: the first input of a group. */
const FIELD_TARGET: Partial<Record<keyof CampaignFormInput, string>> = { kind: 'kind-renewal', topicIds: 'topics-fieldset', channels: 'channels-fieldset' };

export async function action(args: ActionFunctionArgs) {
  const { org, admin } = await guard(args);
  const db = args.context.db;
  const form = await args.request.formData();
  const text = (name: string) => String(form.get(name) ?? '').slice(0, 500);
  const input: CampaignFormInput = {
    name: text('name'),
    kind: text('kind'),
    topicIds: form.getAll('topicIds').map(String).slice(0, 100),
    expiringWithinDays: text('expiringWithinDays'),
    grantedBefore: text('grantedBefore'),
    channels: form.getAll('channels').map(String).slice(0, 10),
    throttlePerMinute: text('throttlePerMinute'),
    scheduleDate: text('scheduleDate'),
    scheduleTime: text('scheduleTime'),
  };
  const now = new Date();
  const [topics, timeZone] = await Promise.all([campaignTopics(db, org.id), orgTimeZone(db, org.id)]);
  const parsed = parseCampaignForm(input, { topicIds: new Set(topics.map((t) => t.id)), timeZone, now });
  if (!parsed.ok) return data({ values: input, errors: parsed.fieldErrors }, { status: 400 });
  const campaign = await createCampaign(db, { orgId: org.id, adminId: admin.id, draft: parsed.value, now });
  throw redirectTo(`/admin/${org.slug}/campaigns/${campaign.id}`);
}

export default function NewCampaign() {
  const { slug, timeZone, topics, defaultThrottle, maxName, channels } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: CampaignFieldErrors = result?.errors ?? {};
  const values = result?.values;
  const busy = useNavigation().state === 'submitting';
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result?.errors) summary.current?.focus();
  }, [result]);
  const listed = FIELD_ORDER.filter((f) => errors[f]);
  const groupError = (id: string, message?: string) =>
    message ? (
      <p id={id} className="field__error">
        <span className="visually-hidden">Error: </span>
        {message}
      </p>
    ) : null;
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>New renewal campaign</h1>
      <div ref={summary} tabIndex={-1}>
        {listed.length > 0 ? (
          <div role="alert" className="form-error">
            <h2 className="error-summary__title">There is a problem</h2>
            <ul>
              {listed.map((f) => (
                <li key={f}>
                  <a href={`#${FIELD_TARGET[f] ?? f}`}>{errors[f]}</a>
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <div role="alert" />
        )}
      </div>
      <Form method="post" noValidate>
        <Field id="name" label="Campaign name" hint="Only admins see it." error={errors.name} type="text" maxLength={maxName} defaultValue={values?.name ?? ''} required />

        <fieldset className="choices" aria-describedby={errors.kind ? 'kind-error' : undefined}>
          <legend>What to send</legend>
          {groupError('kind-error', errors.kind)}
          {(['renewal', 'expiry_reminder'] as const).map((k) => (
            <label key={k} className="choice">
              <input type="radio" id={`kind-${k === 'renewal' ? 'renewal' : 'reminder'}`} name="kind" value={k} defaultChecked={(values?.kind ?? 'renewal') === k} />
              {CAMPAIGN_KIND_LABELS[k]}
            </label>
          ))}
        </fieldset>

        <fieldset id="topics-fieldset" tabIndex={-1} className="choices" aria-describedby={errors.topicIds ? 'topicIds-error' : undefined}>
          <legend>Topics</legend>
          {groupError('topicIds-error', errors.topicIds)}
          {topics.length === 0 ? <p>There are no topics yet.</p> : null}
          {topics.map((t) => (
            <label key={t.id} className="choice">
              <input type="checkbox" name="topicIds" value={t.id} defaultChecked={values?.topicIds.includes(t.id) ?? false} aria-invalid={errors.topicIds ? true : undefined} />
              {t.name}
            </label>
          ))}
        </fieldset>

        <h2>Which authorisations</h2>
        <p id="targeting-hint">Active authorisations that expire within the days given, or were signed before the date, or either when you fill in both. Revoked and expired ones, and patients we cannot reach on the chosen channels, are never included.</p>
        <Field
          id="expiringWithinDays"
          label="Expiring within (days)"
          hint="For example 30. Needed for an expiry reminder."
          error={errors.expiringWithinDays}
          type="text"
          inputMode="numeric"
          defaultValue={values?.expiringWithinDays ?? '30'}
        />
        <Field id="grantedBefore" label="Or signed before (date)" hint={`Optional. In ${timeZone} time.`} error={errors.grantedBefore} type="date" defaultValue={values?.grantedBefore ?? ''} />

        <fieldset id="channels-fieldset" tabIndex={-1} className="choices" aria-describedby={errors.channels ? 'channels-error' : 'channels-hint'}>
          <legend>Channels</legend>
          <p id="channels-hint" className="field__hint">
            Each patient gets one request, on the first of these that their authorisation covers and that can reach them, in this order.
          </p>
          {groupError('channels-error', errors.channels)}
          {channels.map((c) => (
            <label key={c} className="choice">
              <input type="checkbox" name="channels" value={c} defaultChecked={values ? values.channels.includes(c) : c === 'email'} aria-invalid={errors.channels ? true : undefined} />
              {CAMPAIGN_CHANNEL_LABELS[c]}
            </label>
          ))}
        </fieldset>

        <Field
          id="throttlePerMinute"
          label="Requests per minute at most"
          hint="Spreads the sending so replies and sign-ins do not all arrive at once."
          error={errors.throttlePerMinute}
          type="text"
          inputMode="numeric"
          defaultValue={values?.throttlePerMinute ?? String(defaultThrottle)}
        />

        <h2>When to start</h2>
        <p>{`Leave both empty to start as soon as you launch it. Times are in the organisation's time zone, ${timeZone}.`}</p>
        <div className="button-row">
          <Field id="scheduleDate" label="Start date" error={errors.scheduleDate} type="date" defaultValue={values?.scheduleDate ?? ''} />
          <Field id="scheduleTime" label="Start time" hint="24-hour clock" error={errors.scheduleTime} type="time" defaultValue={values?.scheduleTime ?? ''} />
        </div>

        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Save as draft
          </button>
          <Link to={`/admin/${slug}/campaigns`}>Cancel</Link>
        </div>
      </Form>
    </main>
  );
}
