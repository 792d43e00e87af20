import {
  data,
  MaxPartSizeExceededError,
  unstable_createMemoryUploadHandler,
  unstable_parseMultipartFormData,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation, useSearchParams } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import {
  currentLogoVersion,
  getOrganisationSettings,
  MAX_LOGO_BYTES,
  requireAdmin,
  sanitiseLogoSvg,
  saveOrganisationLogo,
  saveOrganisationSettings,
} from '../services/all.server';
import { redirectTo } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Settings · Admin · Carepost' }];

const pad = (n: number) => String(n).padStart(2, '0');
const minuteToTime = (m: number | null) => (m === null ? '' : `${pad(Math.floor(m / 60))}:${pad(m % 60)}`);

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now: new Date() });
  const s = await getOrganisationSettings(context.db, org.id);
  const logo = await currentLogoVersion(context.db, org.id);
  return {
    // The version in the URL shows a new logo at once here, past the logo route's short public cache.
    logoUrl: logo ? `/o/${org.slug}/logo.svg?v=${logo}` : null,
    maxLogoKb: MAX_LOGO_BYTES / 1024,
    timeZones: [...new Set(['UTC', s.timeZone, ...Intl.supportedValuesOf('timeZone')])],
    settings: {
      name: s.name,
      brandColor: s.brandColor,
      timeZone: s.timeZone,
      pickupPolicy: s.pickupPolicy,
      pickupLinkDays: String(s.pickupLinkDays),
      messageExpiryDays: String(s.messageExpiryDays),
      quietHours: s.defaultQuietStartMinute !== null,
      quietStart: minuteToTime(s.defaultQuietStartMinute),
      quietEnd: minuteToTime(s.defaultQuietEndMinute),
      weeklyCap: s.defaultWeeklyCap === null ? '' : String(s.defaultWeeklyCap),
    },
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  if ((request.headers.get('content-type') ?? '').startsWith('multipart/form-data')) {
    // The logo upload (ADR 016): every part is held in memory up to the logo limit, and a bigger one stops the parse.
    let upload: FormData;
    try {
      upload = await unstable_parseMultipartFormData(request, unstable_createMemoryUploadHandler({ maxPartSize: MAX_LOGO_BYTES }));
    } catch (error) {
      const tooBig = error instanceof MaxPartSizeExceededError;
      return data({ logoError: tooBig ? 'The logo must be 100 KB or smaller.' : 'The upload could not be read. Please try again.' }, { status: tooBig ? 413 : 400 });
    }
    const file = upload.get('logo');
    if (!(file instanceof File) || file.size === 0) return data({ logoError: 'Choose an SVG file.' }, { status: 400 });
    const checked = sanitiseLogoSvg(new Uint8Array(await file.arrayBuffer()));
    if (!checked.ok) return data({ logoError: checked.error }, { status: 400 });
    await saveOrganisationLogo(context.db, { orgId: org.id, svg: checked.svg, actor: { type: 'admin', id: admin.id } });
    throw redirectTo(`/admin/${org.slug}/settings?logo=saved`);
  }
  const form = await request.formData();
  if (form.get('intent') === 'remove_logo') {
    await saveOrganisationLogo(context.db, { orgId: org.id, svg: null, actor: { type: 'admin', id: admin.id } });
    throw redirectTo(`/admin/${org.slug}/settings?logo=removed`);
  }
  const text = (name: string) => String(form.get(name) ?? '');
  const result = await saveOrganisationSettings(context.db, {
    orgId: org.id,
    actor: { type: 'admin', id: admin.id },
    now,
    form: {
      name: text('name'),
      brandColor: text('brandColor'),
      timeZone: text('timeZone'),
      pickupPolicy: text('pickupPolicy') as never,
      pickupLinkDays: text('pickupLinkDays'),
      messageExpiryDays: text('messageExpiryDays'),
      quietHours: form.get('quietHours') === 'on',
      quietStart: text('quietStart'),
      quietEnd: text('quietEnd'),
      weeklyCap: text('weeklyCap'),
    },
  });
  if (result.status === 'invalid') return data({ fieldErrors: result.fieldErrors, form: 'Nothing was saved. Please fix the problems below.' }, { status: 400 });
  throw redirectTo(`/admin/${org.slug}/settings?saved=1`);
}

const POLICIES = [
  { value: 'code', label: 'A one-time code sent to a contact point on record' },
  { value: 'code_dob', label: 'A one-time code and the patient’s date of birth' },
  { value: 'passkey', label: 'A passkey only' },
] as const;

export default function GeneralSettings() {
  const { settings, timeZones, logoUrl, maxLogoKb } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>() as { fieldErrors?: Record<string, string>; form?: string; logoError?: string } | undefined;
  const errors: Record<string, string> = result?.fieldErrors ?? {};
  const logoError = result?.logoError;
  const busy = useNavigation().state === 'submitting';
  const [search] = useSearchParams();
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) summary.current?.focus();
  }, [result]);
  return (
    <main id="main" tabIndex={-1}>
      <h1>Settings</h1>
      {search.get('saved') && !result ? (
        <p className="notice" role="status">
          Settings saved.
        </p>
      ) : null}
      {search.get('logo') && !result ? (
        <p className="notice" role="status">
          {search.get('logo') === 'removed' ? 'Logo removed.' : 'Logo saved. Patients see it on your pages within a few minutes.'}
        </p>
      ) : null}
      <div ref={summary} tabIndex={-1}>
        <FormError message={result?.form ?? (logoError ? 'The logo was not changed. Please fix the problem below.' : undefined)} />
      </div>
      <Form method="post" noValidate>
        <section className="card" aria-labelledby="branding-heading">
          <h2 id="branding-heading">Organisation</h2>
          <Field id="name" label="Name patients see" defaultValue={settings.name} error={errors.name} maxLength={120} autoComplete="organization" />
          <Field id="brandColor" label="Brand colour" hint="As #rrggbb. The portal picks a readable text colour for it." defaultValue={settings.brandColor} error={errors.brandColor} maxLength={7} />
          <div className="field">
            <label htmlFor="timeZone">Organisation time zone</label>
            {errors.timeZone ? (
              <p id="timeZone-error" className="field__error">
                {errors.timeZone}
              </p>
            ) : null}
            <select id="timeZone" name="timeZone" defaultValue={settings.timeZone} aria-describedby={errors.timeZone ? 'timeZone-error' : undefined}>
              {timeZones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </div>
        </section>

        <section className="card" aria-labelledby="pickup-heading">
          <h2 id="pickup-heading">Secure messages</h2>
          <fieldset className="choices" aria-describedby={errors.pickupPolicy ? 'pickupPolicy-error' : undefined}>
            <legend>Before reading a message, a patient proves who they are with</legend>
            {errors.pickupPolicy ? (
              <p id="pickupPolicy-error" className="field__error">
                {errors.pickupPolicy}
              </p>
            ) : null}
            {POLICIES.map((p) => (
              <label key={p.value} className="choice">
                <input type="radio" name="pickupPolicy" value={p.value} defaultChecked={settings.pickupPolicy === p.value} />
                {p.label}
              </label>
            ))}
          </fieldset>
          <Field id="pickupLinkDays" label="Links in notices work for (days)" inputMode="numeric" defaultValue={settings.pickupLinkDays} error={errors.pickupLinkDays} maxLength={3} />
          <Field id="messageExpiryDays" label="Messages stay readable for (days)" inputMode="numeric" defaultValue={settings.messageExpiryDays} error={errors.messageExpiryDays} maxLength={4} />
        </section>

        <section className="card" aria-labelledby="defaults-heading">
          <h2 id="defaults-heading">Defaults for patients who have not chosen</h2>
          <p>Patients can always change these for themselves; their own choice wins.</p>
          <label className="choice">
            <input type="checkbox" name="quietHours" defaultChecked={settings.quietHours} />
            Quiet hours for text messages and notifications
          </label>
          <Field id="quietStart" label="Quiet from" type="time" defaultValue={settings.quietStart || '21:00'} error={errors.quietStart} />
          <Field id="quietEnd" label="Quiet until" type="time" defaultValue={settings.quietEnd || '08:00'} error={errors.quietEnd} />
          <Field
            id="weeklyCap"
            label="At most this many marketing messages a week"
            hint="Leave empty for no limit."
            inputMode="numeric"
            defaultValue={settings.weeklyCap}
            error={errors.weeklyCap}
            maxLength={3}
          />
        </section>
        <button className="button" type="submit" disabled={busy}>
          Save settings
        </button>
      </Form>

      <section className="card" aria-labelledby="logo-heading">
        <h2 id="logo-heading">Logo</h2>
        {logoUrl ? (
          <p>
            <img src={logoUrl} alt="Your current logo" width={96} height={96} />
          </p>
        ) : (
          <p>No logo yet: patients see your name only.</p>
        )}
        <Form method="post" encType="multipart/form-data" noValidate>
          <div className={`field${logoError ? ' field--error' : ''}`}>
            <label htmlFor="logo">Logo file (SVG)</label>
            <p id="logo-hint" className="field__hint">
              {`An SVG image up to ${maxLogoKb} KB, square works best. Scripts, links to other files and embedded images are removed.`}
            </p>
            {logoError ? (
              <p id="logo-error" className="field__error">
                <span className="visually-hidden">Error: </span>
                {logoError}
              </p>
            ) : null}
            <input
              id="logo"
              name="logo"
              type="file"
              accept=".svg,image/svg+xml"
              aria-describedby={logoError ? 'logo-hint logo-error' : 'logo-hint'}
              aria-invalid={logoError ? true : undefined}
            />
          </div>
          <button className="button" type="submit" disabled={busy}>
            Upload logo
          </button>
        </Form>
        {logoUrl ? (
          <Form method="post">
            <input type="hidden" name="intent" value="remove_logo" />
            <button className="button button--secondary" type="submit" disabled={busy}>
              Remove logo
            </button>
          </Form>
        ) : null}
      </section>
    </main>
  );
}
