import { data, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, isRouteErrorResponse, Link, NavLink, Outlet, useLoaderData, useRouteError } from '@remix-run/react';
import { SessionTimeoutWarning } from '../components/session-timeout';
import { optionalPatient } from '../services/all.server';
import { getOrganisationBranding } from '../services/all.server';
import { useNonce } from '../nonce';
import { LanguageSwitcher, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await getOrganisationBranding(context.db, params.slug ?? '');
  if (!org) throw data({ reason: 'unknown_organisation' }, { status: 404 });
  const now = new Date();
  const signedIn = await optionalPatient({ request, db: context.db, cookies: context.identity.cookies, org, now });
  return {
    org,
    signedIn: signedIn !== undefined,
    idle: signedIn ? { remainingMs: signedIn.session.idleExpiresAt.getTime() - now.getTime(), renderedAt: now.toISOString() } : null,
  };
}

export const meta: MetaFunction<typeof loader> = ({ data: loaderData }) => [
  { title: loaderData ? `${loaderData.org.name} · Carepost` : 'Carepost' },
];

export default function OrganisationLayout() {
  const { org, signedIn, idle } = useLoaderData<typeof loader>();
  const t = useT();
  const nonce = useNonce();
  // Colours come from the database as #rrggbb (a CHECK constraint) and from our own contrast choice, so they are
  // safe to place in a nonce'd style element; inline style attributes would break the CSP.
  const brandCss = `:root{--brand:${org.brandColor};--brand-text:${org.brandTextColor}}`;
  return (
    <>
      <style nonce={nonce} suppressHydrationWarning>
        {brandCss}
      </style>
      <header className="org-header">
        <div className="org-header__inner">
          {org.hasLogo ? <img className="org-header__logo" src={`/o/${org.slug}/logo.svg`} alt="" width={48} height={48} /> : null}
          <p className="org-header__name">{org.name}</p>
          <LanguageSwitcher />
          {signedIn ? (
            <Form method="post" action={`/o/${org.slug}/sign-out`}>
              <button className="header-button" type="submit">
                {t('layout.signOut')}
              </button>
            </Form>
          ) : (
            <Link className="org-header__link" to={`/o/${org.slug}/sign-in`}>
              {t('common.signIn')}
            </Link>
          )}
        </div>
      </header>
      {signedIn ? <SignedInNav slug={org.slug} /> : null}
      {idle ? <SessionTimeoutWarning slug={org.slug} idleRemainingMs={idle.remainingMs} renderedAt={idle.renderedAt} /> : null}
      <Outlet />
      <footer className="site-footer">
        <p>{t('layout.footer', { org: org.name })}</p>
      </footer>
    </>
  );
}

function SignedInNav({ slug }: { slug: string }) {
  const t = useT();
  const items = [
    { to: `/o/${slug}/messages`, label: t('layout.nav.messages') },
    { to: `/o/${slug}/choices`, label: t('layout.nav.choices') },
    { to: `/o/${slug}/preferences`, label: t('layout.nav.preferences') },
    { to: `/o/${slug}/deliveries`, label: t('layout.nav.deliveries') },
    { to: `/o/${slug}/account`, label: t('layout.nav.account') },
  ];
  return (
    <nav className="site-nav no-print" aria-label={t('layout.nav')}>
      <ul>
        {items.map((item) => (
          <li key={item.to}>
            <NavLink to={item.to}>{item.label}</NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const unknownOrg = isRouteErrorResponse(error) && error.status === 404;
  const t = useT();
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <LanguageSwitcher />
      <h1>{unknownOrg ? t('error.noProvider.title') : t('error.generic.title')}</h1>
      <p>{unknownOrg ? t('error.noProvider.body') : t('error.generic.body')}</p>
      <p>
        <a href="/">{t('error.home')}</a>
      </p>
    </main>
  );
}
