import { forwardRef } from 'react';
import { useT } from '../i18n';

/**
 * The list of problems at the top of a refused form, each linking to its field. The page moves focus here after a
 * refused submit, so a screen reader announces it and a keyboard user can jump to each field.
 */
export const ErrorSummary = forwardRef<HTMLDivElement, { errors: { field: string; message: string }[]; intro?: string }>(function ErrorSummary({ errors, intro }, ref) {
  const t = useT();
  return (
    <div ref={ref} tabIndex={-1} className={errors.length > 0 ? 'error-summary' : undefined} aria-labelledby={errors.length > 0 ? 'error-summary-title' : undefined}>
      {errors.length > 0 ? (
        <>
          <h2 id="error-summary-title" className="error-summary__title">
            {t('common.errorSummaryTitle')}
          </h2>
          {intro ? <p>{intro}</p> : null}
          <ul>
            {errors.map((e) => (
              <li key={e.field}>
                <a href={`#${e.field}`}>{e.message}</a>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
});
