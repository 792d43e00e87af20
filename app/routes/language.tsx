import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { changeLanguage } from '../services/all.server';
import { redirectTo } from '../services/all.server';

// The language switcher's target (issue 9, item 3). GET changes nothing (CX1).
export function loader(_args: LoaderFunctionArgs) {
  throw redirectTo('/');
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  // Back to the page the switcher was on: the Referer (same origin only; Referrer-Policy same-origin sends it), else
  // the path the form carried.
  const referer = request.headers.get('referer');
  const from = referer && URL.canParse(referer) ? new URL(referer) : undefined;
  const sameSite = from && from.origin === context.config.publicUrl.origin;
  throw await changeLanguage({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    locale: String(form.get('locale') ?? ''),
    returnTo: sameSite ? `${from.pathname}${from.search}` : String(form.get('returnTo') ?? '/'),
    now: new Date(),
  });
}
