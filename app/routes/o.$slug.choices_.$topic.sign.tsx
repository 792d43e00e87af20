import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { AuthorizationTextView } from '../components/consent';
import { Field, FormError } from '../components/field';
import { checkSignatureAndChannels, choicesOf, CONSENT_CHANNELS, grantAuthorization, renewAuthorization, signableText, textSections } from '../services/consent.server';
import { redirectTo, requireRecentVerification } from '../services/identity.server';
import { CHANNEL_LABELS, CHANNELS } from '../utils/consent-words';

// Grant or renew one authorisation (AV5: one topic per signature; AV7: a renewal is a new signed record).
// SE5: signing needs a verification from the last few minutes; otherwise the patient is sent to confirm it is them.
export const meta: MetaFunction<typeof loader> = ({ data: d }) => [{ title: `${d?.mode === 'renew' ? 'Renew' : 'Give'} permission · Carepost` }];

async function load(args: LoaderFunctionArgs) {
  const { request, params, context } = args;
  const now = new Date();
  const returnTo = `/o/${params.slug}/choices/${params.topic}/sign`;
  const signedIn = await requireRecentVerification({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    slug: params.slug,
    now,
    returnTo,
  });
  const { org, patient } = signedIn;
  const signable = await signableText(context.db, org.id, patient.id, params.topic ?? '');
  if (!signable) throw data({ reason: 'unknown_topic' }, { status: 404 });
  const choice = (await choicesOf(context.db, org.id, patient.id, now)).find((c) => c.topic.id === signable.topic.id)!;
  // An active or lapsed authorisation is renewed (the new record names the old one); a revoked or absent one is granted anew.
  const mode = choice.status.kind === 'active' || choice.status.kind === 'expired' ? ('renew' as const) : ('grant' as const);
  return { signedIn, signable, choice, mode, now };
}

export async function loader(args: LoaderFunctionArgs) {
  const { signedIn, signable, choice, mode } = await load(args);
  return {
    slug: signedIn.org.slug,
    mode,
    topicName: signable.topic.name,
    textId: signable.text.id,
    version: signable.text.version,
    text: textSections(signable.text.body!),
    channels: choice.status.kind === 'active' ? choice.status.channels : ['email'],
    displayName: signedIn.patient.displayName,
  };
}

type Errors = { form?: string; signatureName?: string; channels?: string; confirm?: string };

export async function action(args: ActionFunctionArgs) {
  const { request, context } = args;
  const { signedIn, signable, mode, now } = await load(args);
  const { org, patient, session } = signedIn;
  const form = await request.formData();
  const channels = form.getAll('channels').map(String);
  const signatureName = String(form.get('signatureName') ?? '');
  const errors: Errors = {};
  if (form.get('confirm') !== 'yes') errors.confirm = 'Tick the box to confirm you have read this and want to sign it.';
  if (String(form.get('textId') ?? '') !== signable.text.id) {
    return data({ errors: { form: 'This permission text was updated while you were reading it. Read the new version below, then sign again.' } as Errors }, { status: 409 });
  }
  const input = {
    orgId: org.id,
    patientId: patient.id,
    topicId: signable.topic.id,
    textId: signable.text.id,
    channels: channels.filter((c): c is (typeof CONSENT_CHANNELS)[number] => (CONSENT_CHANNELS as string[]).includes(c)),
    signatureName,
    evidence: {
      method: session.verificationMethod,
      verifiedAt: session.verifiedAt.toISOString(),
      ipAddress: context.clientIp,
      userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null,
      via: 'portal' as const,
    },
    now,
  };
  Object.assign(errors, checkSignatureAndChannels(input));
  if (channels.length !== input.channels.length) errors.channels = 'Choose from the ways listed.';
  if (errors.confirm || errors.channels || errors.signatureName) {
    return data({ errors: { ...errors, form: 'Please fix the problems below.' } as Errors }, { status: 400 });
  }
  const result = await (mode === 'renew' ? renewAuthorization : grantAuthorization)(context.db, input);
  switch (result.status) {
    case 'granted':
    case 'renewed':
      throw redirectTo(`/o/${org.slug}/choices/record/${result.event.id}?done=${result.status}`);
    case 'invalid':
      return data({ errors: { ...result.fieldErrors, form: 'Please fix the problems below.' } as Errors }, { status: 400 });
    case 'already_active':
      throw redirectTo(`/o/${org.slug}/choices`);
    case 'text_outdated':
      return data({ errors: { form: 'This permission text was updated while you were reading it. Read the new version below, then sign again.' } as Errors }, { status: 409 });
    default:
      return data({ errors: { form: 'This permission cannot be signed at the moment. Please contact your provider.' } as Errors }, { status: 409 });
  }
}

export default function SignAuthorization() {
  const { slug, mode, topicName, textId, version, text, channels, displayName } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Errors = result?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result?.errors) summary.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>
        {mode === 'renew' ? 'Renew' : 'Give'} permission: {topicName}
      </h1>
      <p>
        Read the whole text. It is version {version}. If you sign, we keep it with a record of when and how you signed, and you can download a copy.
        {mode === 'renew' ? ' Renewing makes a new record that starts today; your earlier record is kept.' : ''}
      </p>
      <div ref={summary} tabIndex={-1}>
        <FormError message={errors.form} />
      </div>
      <AuthorizationTextView text={text} />
      <Form method="post" noValidate>
        <input type="hidden" name="textId" value={textId} />
        <fieldset className="choices" aria-describedby={errors.channels ? 'channels-error' : undefined}>
          <legend>How may we contact you about this?</legend>
          {errors.channels ? (
            <p id="channels-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.channels}
            </p>
          ) : null}
          {CHANNELS.map((c) => (
            <label key={c} className="choice">
              <input type="checkbox" name="channels" value={c} defaultChecked={channels.includes(c)} aria-invalid={errors.channels ? true : undefined} />
              {CHANNEL_LABELS[c]}
            </label>
          ))}
        </fieldset>
        <Field
          id="signatureName"
          label="Type your full name to sign"
          hint={`For example: ${displayName}`}
          error={errors.signatureName}
          type="text"
          autoComplete="name"
          maxLength={120}
          required
        />
        <div className={`field${errors.confirm ? ' field--error' : ''}`}>
          {errors.confirm ? (
            <p id="confirm-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.confirm}
            </p>
          ) : null}
          <label className="choice">
            <input type="checkbox" name="confirm" value="yes" aria-describedby={errors.confirm ? 'confirm-error' : undefined} aria-invalid={errors.confirm ? true : undefined} />
            I have read this permission, and I sign it with the name I typed.
          </label>
        </div>
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            {mode === 'renew' ? 'Sign and renew' : 'Sign and give permission'}
          </button>
          <Link to={`/o/${slug}/choices`}>Cancel</Link>
        </div>
      </Form>
    </main>
  );
}
