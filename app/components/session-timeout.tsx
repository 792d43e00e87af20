import { useFetcher, useSubmit } from '@remix-run/react';
import { useEffect, useRef, useState } from 'react';
import { useT } from '../i18n';

const WARN_BEFORE_MS = 2 * 60 * 1000;

/**
 * SE2: the server ends a session after 15 idle minutes. Two minutes before, this says so and offers to stay;
 * at the end it signs out for real (so a shared device is cleared, PW2) instead of leaving a dead page up.
 */
export function SessionTimeoutWarning({
  slug,
  idleRemainingMs,
  renderedAt,
  basePath = `/o/${slug}`,
}: {
  slug: string;
  idleRemainingMs: number;
  renderedAt: string;
  /** Where the session and sign-out routes live: the patient portal, or the admin console. */
  basePath?: string;
}) {
  const [warning, setWarning] = useState(false);
  const keepAlive = useFetcher();
  const submit = useSubmit();
  const stayButton = useRef<HTMLButtonElement>(null);
  const t = useT();

  useEffect(() => {
    setWarning(false);
    const warnIn = Math.max(0, idleRemainingMs - WARN_BEFORE_MS);
    const warnTimer = window.setTimeout(() => setWarning(true), warnIn);
    const endTimer = window.setTimeout(() => {
      submit({ reason: 'timeout' }, { method: 'post', action: `${basePath}/sign-out` });
    }, idleRemainingMs);
    return () => {
      window.clearTimeout(warnTimer);
      window.clearTimeout(endTimer);
    };
    // renderedAt changes whenever the layout loader ran again, i.e. whenever the server saw activity.
  }, [basePath, idleRemainingMs, renderedAt, submit]);

  useEffect(() => {
    if (warning) stayButton.current?.focus();
  }, [warning]);

  if (!warning) return null;
  return (
    <div className="timeout-warning" role="alertdialog" aria-labelledby="timeout-title" aria-describedby="timeout-text">
      <h2 id="timeout-title">{t('timeout.title')}</h2>
      <p id="timeout-text">{t('timeout.text')}</p>
      <div className="button-row">
        <keepAlive.Form method="post" action={`${basePath}/session`}>
          <button ref={stayButton} className="button" type="submit">
            {t('timeout.stay')}
          </button>
        </keepAlive.Form>
        <button className="button button--secondary" type="button" onClick={() => submit({}, { method: 'post', action: `${basePath}/sign-out` })}>
          {t('timeout.signOut')}
        </button>
      </div>
    </div>
  );
}
