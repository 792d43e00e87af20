import type { VerifyCodeResult } from '../../server/identity/sign-in';

type Failure = Exclude<VerifyCodeResult, { status: 'verified' }>;

/** What the patient reads after a code that did not work, and the HTTP status that goes with it. */
export function codeFailure(result: Failure, orgName: string): { field?: string; form?: string; status: number; retryAfter?: number } {
  switch (result.status) {
    case 'wrong':
      return {
        status: 400,
        field:
          result.triesLeft > 0
            ? `That code is not right. You can try ${result.triesLeft} more time${result.triesLeft === 1 ? '' : 's'}.`
            : 'That code is not right, and it cannot be tried again. Ask for a new code.',
      };
    case 'too_many_tries':
      return { status: 400, form: 'That code has been tried too many times. Ask for a new code.' };
    case 'expired':
      return { status: 400, form: 'That code has expired: codes work for 10 minutes. Ask for a new code.' };
    case 'used':
      return { status: 400, form: 'That code has already been used. Ask for a new code.' };
    case 'no_attempt':
      return {
        status: 400,
        form: 'This browser has no code waiting: it was asked for in another browser, or a newer code replaced it. Ask for a new code here.',
      };
    case 'wait':
      return {
        status: 429,
        retryAfter: result.retryAfterSeconds,
        form: `Too many wrong codes. Wait ${result.retryAfterSeconds} second${result.retryAfterSeconds === 1 ? '' : 's'}, then try again.`,
      };
    case 'locked':
      return { status: 429, form: `Signing in with a code is locked for this contact after too many wrong codes. Try again tomorrow, or contact ${orgName}.` };
  }
}
