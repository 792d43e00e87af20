import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { AuthorizationTextView } from '../components/consent';
import { Field, FormError } from '../components/field';
import { checkSignatureAndChannels, choicesOf, CONSENT_CHANNELS, grantAuthorization, renewAuthorization, signableText, textSections } from '../services/all.server';
import { redirectTo, requireRecentVerification } from '../services/all.server';
import { CHANNELS, channelWord } from '../utils/consent-words';
import { metaT, useT } from '../i18n';
import { pageT, translateServerErrors, translateServerText } from '../services/all.server';
import { textTranslationFor, topicTranslationsOf } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// Grant or renew one authorisation (AV5: one topic per signature; AV7: a renewal is a new signed record).
// SE5: signing needs a verification from the last few minutes; otherwise the patient is sent to confirm it is them.
export const meta: MetaFunction<typeof loader> = ({ data: d, matches }) => [{ title: metaT(matches)(d?.mode === 'renew' ? 'sign.metaTitle.renew' : 'sign.metaTitle.give') }];

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
  // Issue 9: the version in the patient's language when the organisation translated it; the record names it.
  const { locale, t } = pageT(request, context);
  const [translation, topicWords] = await Promise.all([
    textTranslationFor(context.db, signedIn.org.id, signable.text.id, locale),
    topicTranslationsOf(context.db, signedIn.org.id, locale, [signable.topic.id]),
  ]);
  return { signedIn, signable, choice, mode, now, locale, t, translation, topicName: topicWords.get(signable.topic.id)?.name ?? signable.topic.name };
}

export async function loader(args: LoaderFunctionArgs) {
  const { signedIn, signable, choice, mode, locale, translation, topicName } = await load(args);
  return {
    slug: signedIn.org.slug,
    mode,
    topicName,
    textId: signable.text.id,
    translationId: translation?.id ?? '',
    /** The text is shown in the original language: no translation for the patient's. */
    untranslated: locale !== 'en' && !translation,
    textLanguage: translation?.locale ?? signable.text.language,
    version: signable.text.version,
    text: textSections(translation?.body ?? signable.text.body!),
    channels: choice.status.kind === 'active' ? choice.status.channels : ['email'],
    displayName: signedIn.patient.displayName,
  };
}

type Errors = { form?: string; signatureName?: string; channels?: string; confirm?: string };

export async function action(args: ActionFunctionArgs) {
  const { request, context } = args;
  const { signedIn, signable, mode, now, locale, t, translation } = await load(args);
  const { org, patient, session } = signedIn;
  const form = await request.formData();
  const channels = form.getAll('channels').map(String);
  const signatureName = String(form.get('signatureName') ?? '');
  const errors: Errors = {};
  if (form.get('confirm') !== 'yes') errors.confirm = t('sign.confirmError');
  // The version and the translation signed must be the ones read (164.508): a change in between means reading again.
  if (String(form.get('textId') ?? '') !== signable.text.id || String(form.get('translationId') ?? '') !== (translation?.id ?? '')) {
    return data({ errors: { form: t('sign.outdated') } as Errors }, { status: 409 });
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
      language: translation?.locale ?? signable.text.language,
      ...(translation ? { translationId: translation.id, translationHash: translation.contentHash } : {}),
    },
    now,
  };
  Object.assign(errors, translateServerErrors(locale, checkSignatureAndChannels(input)));
  if (channels.length !== input.channels.length) errors.channels = translateServerText(locale, 'Choose from the ways listed.');
  if (errors.confirm || errors.channels || errors.signatureName) {
    return data({ errors: { ...errors, form: t('common.fixBelow') } as Errors }, { status: 400 });
  }
  const result = await (mode === 'renew' ? renewAuthorization : grantAuthorization)(context.db, input);
  switch (result.status) {
    case 'granted':
    case 'renewed':
      throw redirectTo(`/o/${org.slug}/choices/record/${result.event.id}?done=${result.status}`);
    case 'invalid':
      return data({ errors: { ...translateServerErrors(locale, result.fieldErrors), form: t('common.fixBelow') } as Errors }, { status: 400 });
    case 'already_active':
      throw redirectTo(`/o/${org.slug}/choices`);
    case 'text_outdated':
      return data({ errors: { form: t('sign.outdated') } as Errors }, { status: 409 });
    default:
      return data({ errors: { form: t('sign.unavailable') } as Errors }, { status: 409 });
  }
}

export default function SignAuthorization() {
  const { slug, mode, topicName, textId, translationId, untranslated, textLanguage, version, text, channels, displayName } = useLoaderData<typeof loader>();
  const t = useT();
  const result = useActionData<typeof action>();
  const errors: Errors = result?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result?.errors) summary.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t(mode === 'renew' ? 'sign.title.renew' : 'sign.title.give', { topic: topicName })}</h1>
      <p>
        {t('sign.intro', { version })}
        {mode === 'renew' ? ` ${t('sign.renewNote')}` : ''}
      </p>
      {untranslated ? (
        <p className="notice" role="note">
          {t('sign.untranslated')}
        </p>
      ) : null}
      <div ref={summary} tabIndex={-1}>
        <FormError message={errors.form} />
      </div>
      <AuthorizationTextView text={text} lang={textLanguage} />
      <Form method="post" noValidate>
        <input type="hidden" name="textId" value={textId} />
        <input type="hidden" name="translationId" value={translationId} />
        <fieldset className="choices" aria-describedby={errors.channels ? 'channels-error' : undefined}>
          <legend>{t('sign.channelsLegend')}</legend>
          {errors.channels ? (
            <p id="channels-error" className="field__error">
              <span className="visually-hidden">{`${t('common.error')} `}</span>
              {errors.channels}
            </p>
          ) : null}
          {CHANNELS.map((c) => (
            <label key={c} className="choice">
              <input type="checkbox" name="channels" value={c} defaultChecked={channels.includes(c)} aria-invalid={errors.channels ? true : undefined} />
              {channelWord(c, t)}
            </label>
          ))}
        </fieldset>
        <Field
          id="signatureName"
          label={t('sign.nameLabel')}
          hint={t('sign.nameHint', { name: displayName })}
          error={errors.signatureName}
          type="text"
          autoComplete="name"
          maxLength={120}
          required
        />
        <div className={`field${errors.confirm ? ' field--error' : ''}`}>
          {errors.confirm ? (
            <p id="confirm-error" className="field__error">
              <span className="visually-hidden">{`${t('common.error')} `}</span>
              {errors.confirm}
            </p>
          ) : null}
          <label className="choice">
            <input type="checkbox" name="confirm" value="yes" aria-describedby={errors.confirm ? 'confirm-error' : undefined} aria-invalid={errors.confirm ? true : undefined} />
            {t('sign.confirm')}
          </label>
        </div>
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            {t(mode === 'renew' ? 'sign.submit.renew' : 'sign.submit.give')}
          </button>
          <Link to={`/o/${slug}/choices`}>{t('common.cancel')}</Link>
        </div>
      </Form>
    </main>
  );
}
