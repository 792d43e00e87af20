import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { changeLanguage } from '../services/i18n.server';
import { redirectTo } from '../services/identity.server';

// The language switcher's target (issue 9, item 3). GET changes nothing (CX1).
export function loader(_args: LoaderFunctionArgs) {
  throw redirectTo('/');
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  throw await changeLanguage({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    locale: String(form.get('locale') ?? ''),
    returnTo: String(form.get('returnTo') ?? '/'),
    now: new Date(),
  });
}
