import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import { PushOptIn } from '../components/push-opt-in';
import { choicesOf, patientPreferencesOf, savePreferences } from '../services/all.server';
import { redirectTo, requirePatient } from '../services/all.server';
import { pushOptInData } from '../services/all.server';
import { CHANNELS, channelWord, FREQUENCY_CHOICES, frequencyWord, statusText, type StatusView } from '../utils/consent-words';
import { metaT, useT } from '../i18n';
import { pageT, translateServerErrors } from '../services/all.server';
import { topicTranslationsOf } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// How and how often the organisation may contact the patient. Care messages cannot be switched off, only routed.
export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('prefs.metaTitle') }];

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
  const { locale, t } = pageT(request, context);
  const [prefs, choices, translations, push] = await Promise.all([
    patientPreferencesOf(context.db, org.id, patient.id),
    choicesOf(context.db, org.id, patient.id, now),
    topicTranslationsOf(context.db, org.id, locale),
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
        name: translations.get(c.topic.id)?.name ?? c.topic.name,
        status: statusText(JSON.parse(JSON.stringify(c.status)) as StatusView, tz, t, locale),
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
    const { locale, t } = pageT(request, context);
    return data({ fieldErrors: translateServerErrors(locale, result.fieldErrors), form: t('prefs.notSaved') }, { status: 400 });
  }
  throw redirectTo(`/o/${org.slug}/preferences?saved=1`);
}

function ErrorText({ id, message }: { id: string; message?: string }) {
  const t = useT();
  return message ? (
    <p id={id} className="field__error">
      <span className="visually-hidden">{`${t('common.error')} `}</span>
      {message}
    </p>
  ) : null;
}

function ChannelBoxes({ name, legend, chosen, error, hint }: { name: string; legend: string; chosen: string[]; error?: string; hint?: string }) {
  const errorId = `${name}-error`;
  const hintId = `${name}-hint`;
  const t = useT();
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
          {channelWord(c, t)}
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
  const t = useT();
  useEffect(() => {
    if (result) summary.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('layout.nav.preferences')}</h1>
      {search.get('saved') && !result ? (
        <p className="notice" role="status">
          {t('prefs.saved')}
        </p>
      ) : null}
      <div ref={summary} tabIndex={-1}>
        <FormError message={result?.form} />
      </div>
      <Form method="post" noValidate>
        <section className="card" aria-labelledby="care-heading">
          <h2 id="care-heading">{t('prefs.care')}</h2>
          <p>{t('prefs.careBody', { org: orgName })}</p>
          <ChannelBoxes name="careChannels" legend={t('prefs.careBy')} chosen={prefs.careChannels} error={errors.careChannels} />
        </section>

        <section className="card" aria-labelledby="marketing-heading">
          <h2 id="marketing-heading">{t('prefs.marketing')}</h2>
          <p>
            {`${t('prefs.marketingBody')} `}
            <Link to={`/o/${slug}/choices`}>{t('prefs.giveOrTake')}</Link>
            {`. ${t('prefs.onlyLess')}`}
          </p>
          {topics.map((topic, i) => (
            <fieldset key={topic.id} className="topic-prefs">
              <legend>
                <strong>{topic.name}</strong> <span className="muted">({topic.status})</span>
              </legend>
              <input type="hidden" name="topicId" value={topic.id} />
              <ChannelBoxes name={`topics.${i}.channels`} legend={t('prefs.by')} chosen={topic.channels} error={errors[`topics.${i}.channels`]} />
              <div className="field">
                <label htmlFor={`topics.${i}.frequency`}>{t('prefs.howOften')}</label>
                <ErrorText id={`topics.${i}.frequency-error`} message={errors[`topics.${i}.frequency`]} />
                <select id={`topics.${i}.frequency`} name={`topics.${i}.frequency`} defaultValue={topic.frequency} aria-describedby={errors[`topics.${i}.frequency`] ? `topics.${i}.frequency-error` : undefined}>
                  {FREQUENCY_CHOICES.map((f) => (
                    <option key={f} value={f}>
                      {frequencyWord(f, t)}
                    </option>
                  ))}
                </select>
              </div>
              <Field
                id={`topics.${i}.pausedUntil`}
                label={t('prefs.pausedUntil')}
                type="date"
                defaultValue={topic.pausedUntil}
                error={errors[`topics.${i}.pausedUntil`]}
              />
            </fieldset>
          ))}
          <Field id="weeklyCap" label={t('prefs.weeklyCap')} type="text" inputMode="numeric" defaultValue={prefs.weeklyCap} error={errors.weeklyCap} maxLength={3} />
          <Field id="pauseAllUntil" label={t('prefs.pauseAll')} type="date" defaultValue={prefs.pauseAllUntil} error={errors.pauseAllUntil} />
          <label className="choice">
            <input type="checkbox" name="stopAll" defaultChecked={prefs.stopAll} />
            {t('prefs.stopAll')}
          </label>
        </section>

        <section className="card" aria-labelledby="quiet-heading">
          <h2 id="quiet-heading">{t('prefs.quiet')}</h2>
          <p>{t('prefs.quietBody')}</p>
          <label className="choice">
            <input type="checkbox" name="quietHours" defaultChecked={prefs.quietHours} />
            {t('prefs.useQuiet')}
          </label>
          <Field id="quietStart" label={t('prefs.from')} type="time" defaultValue={prefs.quietStart || '21:00'} error={errors.quietStart} />
          <Field id="quietEnd" label={t('prefs.until')} type="time" defaultValue={prefs.quietEnd || '08:00'} error={errors.quietEnd} />
          <div className="field">
            <label htmlFor="timeZone">{t('prefs.timeZone')}</label>
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
          {t('prefs.save')}
        </button>
      </Form>
      <PushOptIn data={push} />
    </main>
  );
}
