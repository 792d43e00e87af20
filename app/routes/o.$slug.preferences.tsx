import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import { PushOptIn } from '../components/push-opt-in';
import { choicesOf, patientPreferencesOf, savePreferences } from '../services/consent.server';
import { redirectTo, requirePatient } from '../services/identity.server';
import { pushOptInData } from '../services/push.server';
import { CHANNEL_LABELS, CHANNELS, FREQUENCY_CHOICES, FREQUENCY_LABELS, statusWords, type StatusView } from '../utils/consent-words';

// How and how often the organisation may contact the patient. Care messages cannot be switched off, only routed.
export const meta: MetaFunction = () => [{ title: 'How we contact you · Carepost' }];

const pad = (n: number) => String(n).padStart(2, '0');
const minuteToTime = (m: number | null) => (m === null ? '' : `${pad(Math.floor(m / 60))}:${pad(m % 60)}`);

/** A stored instant back to the calendar date the patient chose, in their time zone. */
function dateIn(date: Date | null, timeZone: string): string {
  if (!date) return '';
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const [prefs, choices, push] = await Promise.all([
    patientPreferencesOf(context.db, org.id, patient.id),
    choicesOf(context.db, org.id, patient.id, now),
    pushOptInData(context, org, patient.id),
  ]);
  const tz = prefs.timeZone;
  return {
    slug: org.slug,
    orgName: org.name,
    push,
    timeZones: [...new Set(['UTC', tz, ...Intl.supportedValuesOf('timeZone')])],
    prefs: {
      careChannels: prefs.careChannels,
      weeklyCap: prefs.weeklyCap === null ? '' : String(prefs.weeklyCap),
      quietHours: prefs.quietStartMinute !== null,
      quietStart: minuteToTime(prefs.quietStartMinute),
      quietEnd: minuteToTime(prefs.quietEndMinute),
      timeZone: tz,
      pauseAllUntil: prefs.marketingPausedUntil && prefs.marketingPausedUntil > now ? dateIn(prefs.marketingPausedUntil, tz) : '',
      stopAll: prefs.marketingStoppedAt !== null,
    },
    topics: choices
      .filter((c) => c.signable || c.status.kind === 'active')
      .map((c) => ({
        id: c.topic.id,
        name: c.topic.name,
        status: statusWords(JSON.parse(JSON.stringify(c.status)) as StatusView, tz),
        channels: c.preference.channels,
        frequency: c.preference.frequency,
        pausedUntil: dateIn(c.preference.pausedUntil, tz),
      })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const form = await request.formData();
  const topicIds = form.getAll('topicId').map(String).slice(0, 200);
  const result = await savePreferences(context.db, {
    orgId: org.id,
    patientId: patient.id,
    now,
    form: {
      careChannels: form.getAll('careChannels').map(String) as never,
      weeklyCap: String(form.get('weeklyCap') ?? '').trim() as never,
      quietHours: form.get('quietHours') === 'on',
      quietStart: String(form.get('quietStart') ?? ''),
      quietEnd: String(form.get('quietEnd') ?? ''),
      timeZone: String(form.get('timeZone') ?? ''),
      pauseAllUntil: String(form.get('pauseAllUntil') ?? ''),
      stopAll: form.get('stopAll') === 'on',
      topics: topicIds.map((id, i) => ({
        topicId: id,
        channels: form.getAll(`topics.${i}.channels`).map(String) as never,
        frequency: String(form.get(`topics.${i}.frequency`) ?? '') as never,
        pausedUntil: String(form.get(`topics.${i}.pausedUntil`) ?? ''),
      })),
    },
  });
  if (result.status === 'invalid') {
    return data({ fieldErrors: result.fieldErrors, form: 'Nothing was saved. Please fix the problems below.' }, { status: 400 });
  }
  throw redirectTo(`/o/${org.slug}/preferences?saved=1`);
}

function ErrorText({ id, message }: { id: string; message?: string }) {
  return message ? (
    <p id={id} className="field__error">
      <span className="visually-hidden">Error: </span>
      {message}
    </p>
  ) : null;
}

function ChannelBoxes({ name, legend, chosen, error, hint }: { name: string; legend: string; chosen: string[]; error?: string; hint?: string }) {
  const errorId = `${name}-error`;
  const hintId = `${name}-hint`;
  return (
    <fieldset className="choices" aria-describedby={[hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ') || undefined}>
      <legend>{legend}</legend>
      {hint ? (
        <p id={hintId} className="field__hint">
          {hint}
        </p>
      ) : null}
      <ErrorText id={errorId} message={error} />
      {CHANNELS.map((c) => (
        <label key={c} className="choice">
          <input type="checkbox" name={name} value={c} defaultChecked={chosen.includes(c)} aria-invalid={error ? true : undefined} />
          {CHANNEL_LABELS[c]}
        </label>
      ))}
    </fieldset>
  );
}

export default function Preferences() {
  const { slug, orgName, prefs, topics, timeZones, push } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Record<string, string> = result?.fieldErrors ?? {};
  const busy = useNavigation().state === 'submitting';
  const [search] = useSearchParams();
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) summary.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>How we contact you</h1>
      {search.get('saved') && !result ? (
        <p className="notice" role="status">
          Your choices are saved. They apply to the next message.
        </p>
      ) : null}
      <div ref={summary} tabIndex={-1}>
        <FormError message={result?.form} />
      </div>
      <Form method="post" noValidate>
        <section className="card" aria-labelledby="care-heading">
          <h2 id="care-heading">About your care</h2>
          <p>
            Appointment reminders, notices of new secure messages and other messages about your care and your account cannot be switched off: {orgName}{' '}
            may need to reach you. You can choose how they reach you.
          </p>
          <ChannelBoxes name="careChannels" legend="Send care messages by" chosen={prefs.careChannels} error={errors.careChannels} />
        </section>

        <section className="card" aria-labelledby="marketing-heading">
          <h2 id="marketing-heading">Marketing</h2>
          <p>
            We only send marketing for a topic while you have given permission for it. <Link to={`/o/${slug}/choices`}>Give or take back permission</Link>.
            These settings can only make us send you less.
          </p>
          {topics.map((t, i) => (
            <fieldset key={t.id} className="topic-prefs">
              <legend>
                <strong>{t.name}</strong> <span className="muted">({t.status})</span>
              </legend>
              <input type="hidden" name="topicId" value={t.id} />
              <ChannelBoxes name={`topics.${i}.channels`} legend="By" chosen={t.channels} error={errors[`topics.${i}.channels`]} />
              <div className="field">
                <label htmlFor={`topics.${i}.frequency`}>How often</label>
                <ErrorText id={`topics.${i}.frequency-error`} message={errors[`topics.${i}.frequency`]} />
                <select id={`topics.${i}.frequency`} name={`topics.${i}.frequency`} defaultValue={t.frequency} aria-describedby={errors[`topics.${i}.frequency`] ? `topics.${i}.frequency-error` : undefined}>
                  {FREQUENCY_CHOICES.map((f) => (
                    <option key={f} value={f}>
                      {FREQUENCY_LABELS[f]}
                    </option>
                  ))}
                </select>
              </div>
              <Field
                id={`topics.${i}.pausedUntil`}
                label="If paused, start again on"
                type="date"
                defaultValue={t.pausedUntil}
                error={errors[`topics.${i}.pausedUntil`]}
              />
            </fieldset>
          ))}
          <Field id="weeklyCap" label="At most this many marketing messages a week (leave empty for no limit)" type="text" inputMode="numeric" defaultValue={prefs.weeklyCap} error={errors.weeklyCap} maxLength={3} />
          <Field id="pauseAllUntil" label="Pause all marketing until (optional)" type="date" defaultValue={prefs.pauseAllUntil} error={errors.pauseAllUntil} />
          <label className="choice">
            <input type="checkbox" name="stopAll" defaultChecked={prefs.stopAll} />
            Stop all marketing, whatever my permissions say
          </label>
        </section>

        <section className="card" aria-labelledby="quiet-heading">
          <h2 id="quiet-heading">Quiet hours</h2>
          <p>We hold text messages and phone notifications that would arrive between these times, and send them when quiet hours end.</p>
          <label className="choice">
            <input type="checkbox" name="quietHours" defaultChecked={prefs.quietHours} />
            Use quiet hours
          </label>
          <Field id="quietStart" label="From" type="time" defaultValue={prefs.quietStart || '21:00'} error={errors.quietStart} />
          <Field id="quietEnd" label="Until" type="time" defaultValue={prefs.quietEnd || '08:00'} error={errors.quietEnd} />
          <div className="field">
            <label htmlFor="timeZone">Your time zone</label>
            <ErrorText id="timeZone-error" message={errors.timeZone} />
            <select id="timeZone" name="timeZone" defaultValue={prefs.timeZone} aria-describedby={errors.timeZone ? 'timeZone-error' : undefined}>
              {timeZones.map((z) => (
                <option key={z} value={z}>
                  {z.replace(/_/g, ' ')}
                </option>
              ))}
            </select>
          </div>
        </section>
        <button className="button" type="submit" disabled={busy}>
          Save my choices
        </button>
      </Form>
      <PushOptIn data={push} />
    </main>
  );
}
