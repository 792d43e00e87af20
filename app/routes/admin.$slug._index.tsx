import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { capabilitiesOf, requireAdmin, type AdminCapability } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Overview · Admin · Carepost' }];

// The admin home page: a welcome and what this role can do here. No patient data, no figures about patients.
const SECTIONS: { capability: AdminCapability; path: string; title: string; text: string }[] = [
  { capability: 'dashboard', path: '/compliance', title: 'Compliance dashboard', text: 'Active authorisations, grants and revocations over time, gate decisions and the audit chain, as totals.' },
  { capability: 'campaigns', path: '/campaigns', title: 'Renewal campaigns', text: 'Ask patients to renew authorisations before they lapse, and follow the results.' },
  { capability: 'topics', path: '/topics', title: 'Topics and texts', text: 'The marketing purposes patients can agree to, and the authorisation texts they sign.' },
  { capability: 'texts', path: '/topics', title: 'Authorisation texts', text: 'Draft, preview, publish and retire the texts patients sign.' },
  { capability: 'audit', path: '/audit', title: 'Audit log', text: 'Search and export the record of what happened, and verify that it is intact.' },
  { capability: 'support', path: '/support', title: 'Patient support', text: 'Unlock a patient’s sign-in or send a notice again.' },
  { capability: 'team', path: '/team', title: 'Team', text: 'Invite admins, change their roles, and disable access.' },
  { capability: 'settings', path: '/settings', title: 'Settings', text: 'Branding, pickup policy, sending rules, DKIM, API keys and webhooks.' },
];

const ROLE_NAMES = { owner: 'Owner', compliance: 'Compliance', marketer: 'Marketer', support: 'Support' } as const;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now: new Date() });
  const capabilities = capabilitiesOf(admin.role);
  const seen = new Set<string>();
  const sections = SECTIONS.filter((s) => capabilities.includes(s.capability) && !seen.has(s.path) && seen.add(s.path));
  return { slug: org.slug, orgName: org.name, name: admin.name, role: ROLE_NAMES[admin.role], sections };
}

export default function AdminOverview() {
  const { slug, orgName, name, role, sections } = useLoaderData<typeof loader>();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{`Welcome, ${name}`}</h1>
      <p>{`You are signed in to the ${orgName} admin console as ${role}. This is what your role lets you do:`}</p>
      <ul className="topic-list" aria-label="What you can do">
        {sections.map((s) => (
          <li key={s.path} className="card">
            <h2>
              <Link to={`/admin/${slug}${s.path}`}>{s.title}</Link>
            </h2>
            <p>{s.text}</p>
          </li>
        ))}
      </ul>
      <p>
        <Link to={`/admin/${slug}/account`}>Your account</Link>: your password and passkeys.
      </p>
    </main>
  );
}
