// Settings (owner only): a frame with its own navigation; each section is its own route and checks the role itself.
import type { LoaderFunctionArgs } from '@remix-run/node';
import { NavLink, Outlet, useLoaderData } from '@remix-run/react';
import { requireAdmin } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now: new Date() });
  return { slug: org.slug };
}

const SECTIONS = [
  { path: '', label: 'General' },
  { path: '/domains', label: 'TLS-enforced domains' },
  { path: '/dkim', label: 'DKIM signing' },
  { path: '/api-keys', label: 'API keys' },
  { path: '/webhooks', label: 'Webhooks' },
];

export default function SettingsFrame() {
  const { slug } = useLoaderData<typeof loader>();
  return (
    <div className="page page--wide">
      <nav className="sub-nav" aria-label="Settings sections">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <NavLink to={`/admin/${slug}/settings${s.path}`} end={s.path === ''}>
                {s.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet />
    </div>
  );
}
