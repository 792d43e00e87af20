import type { VerifyCodeResult } from '../../server/identity/sign-in';
import type { Translate } from '../i18n';

type Failure = Exclude<VerifyCodeResult, { status: 'verified' }>;

/** What the patient reads after a code that did not work, in their language, and the HTTP status that goes with it. */
export function codeFailure(result: Failure, orgName: string, t: Translate): { field?: string; form?: string; status: number; retryAfter?: number } {
  switch (result.status) {
    case 'wrong':
      return { status: 400, field: result.triesLeft > 0 ? t('code.wrong', { tries: result.triesLeft }) : t('code.wrongLast') };
    case 'too_many_tries':
      return { status: 400, form: t('code.tooManyTries') };
    case 'expired':
      return { status: 400, form: t('code.expired') };
    case 'used':
      return { status: 400, form: t('code.used') };
    case 'no_attempt':
      return { status: 400, form: t('code.noAttemptError') };
    case 'wait':
      return { status: 429, retryAfter: result.retryAfterSeconds, form: t('code.wait', { seconds: result.retryAfterSeconds }) };
    case 'locked':
      return { status: 429, form: t('code.locked', { org: orgName }) };
  }
}
