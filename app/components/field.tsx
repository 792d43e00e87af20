import type { InputHTMLAttributes } from 'react';
import { useT } from '../i18n';

/** A labelled input whose error is tied to it with aria-describedby and announced (STYLE.md, forms). */
export function Field({ id, label, hint, error, ...input }: { id: string; label: string; hint?: string; error?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const t = useT();
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field--error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p id={`${id}-hint`} className="field__hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field__error">
          <span className="visually-hidden">{`${t('common.error')} `}</span>
          {error}
        </p>
      ) : null}
      <input id={id} name={id} aria-describedby={described} aria-invalid={error ? true : undefined} {...input} />
    </div>
  );
}

export function FormError({ message }: { message?: string }) {
  // Always rendered so screen readers announce the message when it appears.
  return (
    <div role="alert" className={message ? 'form-error' : undefined}>
      {message ?? null}
    </div>
  );
}

/** The one-time-code input, as every code form uses it: numeric keypad, the OS's code autofill, one label and hint. */
export function CodeField({ error, ...rest }: { label: string; hint?: string; error?: string } & InputHTMLAttributes<HTMLInputElement>) {
  return <Field id="code" error={error} className="code-input" type="text" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]*" maxLength={12} required {...rest} />;
}
