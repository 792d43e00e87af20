import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { redirectTo, requireOrganisation, requirePatient } from '../services/all.server';

// "Stay signed in": any authenticated request counts as activity; this one does nothing else.
export async function action({ request, params, context }: ActionFunctionArgs) {
  await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  return { ok: true };
}

export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  throw redirectTo(`/o/${org.slug}/account`);
}
