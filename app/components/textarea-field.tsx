import type { TextareaHTMLAttributes } from 'react';
import { useT } from '../i18n';

/** A labelled textarea whose error is tied to it with aria-describedby, like Field. */
export function TextareaField({ id, label, hint, error, ...textarea }: { id: string; label: string; hint?: string; error?: string } & TextareaHTMLAttributes<HTMLTextAreaElement>) {
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
      <textarea id={id} name={id} aria-describedby={described} aria-invalid={error ? true : undefined} {...textarea} />
    </div>
  );
}
