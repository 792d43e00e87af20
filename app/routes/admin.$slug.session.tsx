import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { requireAdmin } from '../services/all.server';
import { json, redirectTo, requireOrganisation } from '../services/all.server';

// "Stay signed in": any authenticated request counts as activity; this one does nothing else. Every role has 'overview'.
export async function action({ request, params, context }: ActionFunctionArgs) {
  await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now: new Date() });
  return json({ ok: true });
}

export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  throw redirectTo(`/admin/${org.slug}`);
}
