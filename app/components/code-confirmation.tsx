import { Form } from '@remix-run/react';
import { CodeField, Field } from './field';
import { useT } from '../i18n';

// The two steps of "confirm it is you with a code", shared by the step-up page and the pickup link: choose where the
// code goes, then type it (and, where the organisation's pickup policy asks, the date of birth, OT5).

export type CodeErrors = { code?: string; contactId?: string; dateOfBirth?: string };

export function ChooseContactForm({ contacts, errors, hidden }: { contacts: { id: string; label: string }[]; errors: CodeErrors; hidden: Record<string, string> }) {
  const t = useT();
  return (
    <Form method="post" noValidate>
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <input type="hidden" name="intent" value="send" />
      <fieldset className="choices" aria-describedby={errors.contactId ? 'contactId-error' : undefined}>
        <legend>{t('codeForm.where')}</legend>
        {errors.contactId ? (
          <p id="contactId-error" className="field__error">
            {errors.contactId}
          </p>
        ) : null}
        {contacts.map((c, i) => (
          <label key={c.id} className="choice">
            <input type="radio" name="contactId" value={c.id} defaultChecked={i === 0} /> {c.label}
          </label>
        ))}
      </fieldset>
      <button className="button" type="submit">
        {t('signIn.send')}
      </button>
    </Form>
  );
}

export function EnterCodeForm({
  withDateOfBirth,
  errors,
  hidden,
  busy,
  submitLabel,
}: {
  withDateOfBirth: boolean;
  errors: CodeErrors;
  hidden: Record<string, string>;
  busy: boolean;
  submitLabel: string;
}) {
  const t = useT();
  return (
    <Form method="post" noValidate>
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <input type="hidden" name="intent" value="verify" />
      {withDateOfBirth ? <input type="hidden" name="level" value="code_dob" /> : null}
      <p className="notice">{t('codeForm.sentNotice')}</p>
      <CodeField label={t('code.label')} hint={t('code.hint')} error={errors.code} />
      {withDateOfBirth ? (
        <fieldset className="choices date-fields" aria-describedby={`dob-hint${errors.dateOfBirth ? ' dob-error' : ''}`}>
          <legend>{t('codeForm.dob')}</legend>
          <p id="dob-hint" className="field__hint">
            {t('codeForm.dobHint')}
          </p>
          {errors.dateOfBirth ? (
            <p id="dob-error" className="field__error">
              {errors.dateOfBirth}
            </p>
          ) : null}
          <div className="date-fields__row">
            <Field id="dobDay" label={t('codeForm.day')} type="text" inputMode="numeric" autoComplete="bday-day" maxLength={2} aria-invalid={errors.dateOfBirth ? true : undefined} />
            <Field id="dobMonth" label={t('codeForm.month')} type="text" inputMode="numeric" autoComplete="bday-month" maxLength={2} aria-invalid={errors.dateOfBirth ? true : undefined} />
            <Field id="dobYear" label={t('codeForm.year')} type="text" inputMode="numeric" autoComplete="bday-year" maxLength={4} aria-invalid={errors.dateOfBirth ? true : undefined} />
          </div>
        </fieldset>
      ) : null}
      <button className="button" type="submit" disabled={busy}>
        {submitLabel}
      </button>
    </Form>
  );
}
