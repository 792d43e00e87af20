import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useState } from 'react';
import { CodeField, Field, FormError } from '../components/field';
import {
  attemptCookieName,
  clearCookie,
  CODE_TTL_MS,
  CONTACT_CONFIRM_MAX_AGE_MS,
  confirmContactVerification,
  deliverContactChangeNotices,
  deliverContactVerificationCode,
  parseNewContact,
  readCookie,
  redirectTo,
  requestContactVerification,
  requireRecentVerification,
  serializeCookie,
  STEP_UP_MAX_AGE_MS,
} from '../services/all.server';
import { codeFailure } from '../utils/code-errors';
import { pageT, translateServerText } from '../services/all.server';
import { metaT, useT, type UiKey } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('contactNew.metaTitle') }];

type Kind = 'email' | 'sms';
type Errors = { kind?: string; value?: string; code?: string; form?: string };
type ActionResult = { stage: 'choose' | 'sent'; kind: Kind; value: string; errors: Errors };

const ALREADY_YOURS: Record<Kind, UiKey> = { email: 'contactNew.alreadyEmail', sms: 'contactNew.alreadySms' };

// SE5: changing a contact point needs a verification from the last few minutes, like adding a passkey.
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireRecentVerification({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    slug: params.slug,
    now: new Date(),
    returnTo: `/o/${params.slug}/contacts/new`,
  });
  return { slug: org.slug };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const cookies = context.identity.cookies;
  const form = await request.formData();
  const { locale, t } = pageT(request, context);
  const intent = form.get('intent') === 'verify' ? 'verify' : 'send';
  const { org, patient } = await requireRecentVerification({
    request,
    db: context.db,
    cookies,
    slug: params.slug,
    now,
    // The step-up must be fresh when the code is asked for; the code itself then lives 10 minutes.
    maxAgeMs: intent === 'send' ? STEP_UP_MAX_AGE_MS : CONTACT_CONFIRM_MAX_AGE_MS,
    returnTo: `/o/${params.slug}/contacts/new`,
  });
  const rawKind = form.get('kind');
  const kind: Kind = rawKind === 'sms' ? 'sms' : 'email';
  const parsed = parseNewContact({ kind: rawKind, value: form.get('value') ?? '' });
  const typed = String(form.get('value') ?? '').slice(0, 254);

  if (intent === 'send') {
    if (!parsed.ok) return data<ActionResult>({ stage: 'choose', kind, value: typed, errors: { [parsed.field]: translateServerText(locale, parsed.message) } }, { status: 400 });
    const result = await requestContactVerification({
      db: context.db,
      codeSecret: context.identity.codeSecret,
      orgId: org.id,
      patientId: patient.id,
      contact: parsed.contact,
      ipAddress: context.clientIp,
      now,
    });
    if (result.status === 'already_yours') {
      return data<ActionResult>({ stage: 'choose', kind, value: typed, errors: { value: t(ALREADY_YOURS[parsed.contact.kind]) } }, { status: 400 });
    }
    if (result.status === 'rate_limited') {
      const minutes = Math.ceil(result.retryAfterSeconds / 60);
      return data<ActionResult>(
        { stage: 'choose', kind, value: typed, errors: { form: t('signIn.rateLimited', { minutes }) } },
        { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
      );
    }
    const delivery = result.delivery;
    setImmediate(() => void deliverContactVerificationCode(context.transports, org.name, delivery, locale));
    return data<ActionResult>(
      { stage: 'sent', kind: parsed.contact.kind, value: parsed.contact.value, errors: {} },
      { headers: { 'Set-Cookie': serializeCookie(attemptCookieName(cookies), result.attemptToken, cookies, CODE_TTL_MS / 1000) } },
    );
  }

  // The code stage carries the address along; a tampered one does not match the code's target and is refused.
  if (!parsed.ok) {
    return data<ActionResult>({ stage: 'choose', kind, value: typed, errors: { form: t('contactNew.missing') } }, { status: 400 });
  }
  const contact = parsed.contact;
  const code = String(form.get('code') ?? '').replace(/[\s-]/g, '');
  if (!/^\d{6}$/.test(code)) {
    return data<ActionResult>({ stage: 'sent', kind: contact.kind, value: contact.value, errors: { code: t('contactNew.codeFormat') } }, { status: 400 });
  }
  const result = await confirmContactVerification({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    patientId: patient.id,
    contact,
    attemptToken: readCookie(request, attemptCookieName(cookies)),
    code,
    now,
  });
  const clearAttempt = { 'Set-Cookie': clearCookie(attemptCookieName(cookies), cookies) };
  switch (result.status) {
    case 'added': {
      const notices = result.notices;
      // After the commit and after answering; a failure is logged, never shown (nor the address logged).
      setImmediate(() => void deliverContactChangeNotices(context.transports, org.name, notices, locale));
      throw redirectTo(`/o/${org.slug}/contacts?done=added`, clearAttempt);
    }
    case 'already_yours':
      return data<ActionResult>({ stage: 'choose', kind: contact.kind, value: contact.value, errors: { value: t(ALREADY_YOURS[contact.kind]) } }, { status: 400, headers: clearAttempt });
    case 'in_use':
      return data<ActionResult>(
        {
          stage: 'choose',
          kind: contact.kind,
          value: contact.value,
          errors: {
            form: t(contact.kind === 'email' ? 'contactNew.inUseEmail' : 'contactNew.inUseSms', { org: org.name }),
          },
        },
        { status: 400, headers: clearAttempt },
      );
    case 'locked':
      return data<ActionResult>(
        { stage: 'sent', kind: contact.kind, value: contact.value, errors: { form: t('contactNew.locked', { org: org.name }) } },
        { status: 429 },
      );
    default: {
      const failure = codeFailure(result, org.name, t);
      return data<ActionResult>(
        { stage: 'sent', kind: contact.kind, value: contact.value, errors: { code: failure.field, form: failure.form } },
        { status: failure.status, headers: failure.retryAfter ? { 'Retry-After': String(failure.retryAfter) } : undefined },
      );
    }
  }
}

export default function NewContact() {
  const { slug } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const errors: Errors = result?.errors ?? {};
  const [kind, setKind] = useState<Kind>(result?.kind ?? 'email');
  const t = useT();

  if (result?.stage === 'sent') {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>{t('contactNew.enterCode')}</h1>
        <p className="notice" role="status">
          {`${t('contactNew.sentTo')} `}
          <strong className="contact-list__value">{result.value}</strong>
          {t('contactNew.sentToEnd')}
        </p>
        <FormError message={errors.form} />
        <Form method="post" noValidate>
          <input type="hidden" name="intent" value="verify" />
          <input type="hidden" name="kind" value={result.kind} />
          <input type="hidden" name="value" value={result.value} />
          {/* The patient just asked for this code: take them straight to where it goes. */}
          <CodeField label={t('code.label')} error={errors.code} autoFocus />
          <div className="button-row">
            <button className="button" type="submit" disabled={busy}>
              {t('verify.confirm')}
            </button>
            <Link to={`/o/${slug}/contacts/new`}>{t('contactNew.different')}</Link>
          </div>
        </Form>
      </main>
    );
  }

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('contacts.add')}</h1>
      <p>{t('contactNew.intro')}</p>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <input type="hidden" name="intent" value="send" />
        <fieldset className="choices" aria-describedby={errors.kind ? 'kind-error' : undefined}>
          <legend>{t('contactNew.what')}</legend>
          {errors.kind ? (
            <p id="kind-error" className="field__error">
              <span className="visually-hidden">{`${t('common.error')} `}</span>
              {errors.kind}
            </p>
          ) : null}
          <label className="choice">
            <input type="radio" name="kind" value="email" defaultChecked={kind === 'email'} onChange={() => setKind('email')} /> {t('contacts.kind.email')}
          </label>
          <label className="choice">
            <input type="radio" name="kind" value="sms" defaultChecked={kind === 'sms'} onChange={() => setKind('sms')} /> {t('contacts.kind.sms')}
          </label>
        </fieldset>
        <Field
          id="value"
          label={t(kind === 'email' ? 'contactNew.newEmail' : 'contactNew.newSms')}
          hint={t(kind === 'email' ? 'contactNew.hintEmail' : 'contactNew.hintSms')}
          error={errors.value}
          type={kind === 'email' ? 'email' : 'tel'}
          autoComplete={kind === 'email' ? 'email' : 'tel'}
          autoCapitalize="none"
          spellCheck={false}
          defaultValue={result?.kind === kind ? result.value : undefined}
          maxLength={254}
          required
        />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            {t('contactNew.send')}
          </button>
          <Link to={`/o/${slug}/contacts`}>{t('common.cancel')}</Link>
        </div>
      </Form>
    </main>
  );
}
