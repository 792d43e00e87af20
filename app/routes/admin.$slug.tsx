// The admin console's frame: organisation header, the signed-in admin, and navigation limited to what the role may do.
// Each child route still calls requireAdmin itself; hiding a link is not the guard.
import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, isRouteErrorResponse, Link, NavLink, Outlet, useLoaderData, useRouteError } from '@remix-run/react';
import { SessionTimeoutWarning } from '../components/session-timeout';
import { capabilitiesOf, optionalAdmin, type AdminCapability } from '../services/all.server';
import { getOrganisationBranding } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await getOrganisationBranding(context.db, params.slug ?? '');
  if (!org) throw data({ reason: 'unknown_organisation' }, { status: 404 });
  const now = new Date();
  const signedIn = await optionalAdmin({ request, db: context.db, cookies: context.identity.cookies, org, now });
  return {
    org: { slug: org.slug, name: org.name },
    admin: signedIn ? { name: signedIn.admin.name, role: signedIn.admin.role, capabilities: capabilitiesOf(signedIn.admin.role) } : null,
    // SE2 for admins: the warning before the 15-minute idle timeout, as in the patient portal.
    idle: signedIn ? { remainingMs: signedIn.session.idleExpiresAt.getTime() - now.getTime(), renderedAt: now.toISOString() } : null,
  };
}

export const meta: MetaFunction<typeof loader> = ({ data: loaderData }) => [{ title: loaderData ? `Admin · ${loaderData.org.name} · Carepost` : 'Carepost admin' }];

/** Each page shows for a role with any of its capabilities (the topics page serves both topic and text editors). */
const NAV: { path: string; label: string; anyOf: AdminCapability[] }[] = [
  { path: '', label: 'Overview', anyOf: ['overview'] },
  { path: '/compliance', label: 'Compliance', anyOf: ['dashboard'] },
  { path: '/campaigns', label: 'Renewal campaigns', anyOf: ['campaigns'] },
  { path: '/topics', label: 'Topics and texts', anyOf: ['topics', 'texts'] },
  { path: '/audit', label: 'Audit log', anyOf: ['audit'] },
  { path: '/support', label: 'Patient support', anyOf: ['support'] },
  { path: '/team', label: 'Team', anyOf: ['team'] },
  { path: '/settings', label: 'Settings', anyOf: ['settings'] },
];

export default function AdminLayout() {
  const { org, admin, idle } = useLoaderData<typeof loader>();
  const base = `/admin/${org.slug}`;
  const items = admin ? NAV.filter((item) => item.anyOf.some((c) => admin.capabilities.includes(c))) : [];
  return (
    <>
      <header className="org-header admin-header">
        <div className="org-header__inner">
          <p className="org-header__name">{`${org.name} · Admin`}</p>
          {admin ? (
            <>
              <Link className="org-header__link" to={`${base}/account`}>
                Your account
              </Link>
              <Form method="post" action={`${base}/sign-out`}>
                <button className="header-button" type="submit">
                  {`Sign out ${admin.name}`}
                </button>
              </Form>
            </>
          ) : null}
        </div>
      </header>
      {items.length > 0 ? (
        <nav className="site-nav" aria-label="Admin pages">
          <ul>
            {items.map((item) => (
              <li key={item.path}>
                <NavLink to={`${base}${item.path}`} end={item.path === ''}>
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      {idle ? <SessionTimeoutWarning slug={org.slug} basePath={base} idleRemainingMs={idle.remainingMs} renderedAt={idle.renderedAt} /> : null}
      <Outlet />
    </>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const words =
    status === 403
      ? { title: 'Not allowed', text: 'Your role does not allow this page. Ask an owner of your organisation if you need it.' }
      : status === 404
        ? { title: 'Page not found', text: 'We could not find that page. Check the address, or start from the admin sign-in page.' }
        : { title: 'Something went wrong', text: 'Something went wrong on our side. Please try again in a moment.' };
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <h1>{words.title}</h1>
      <p>{words.text}</p>
    </main>
  );
}
