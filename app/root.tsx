import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { isRouteErrorResponse, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError, useRouteLoaderData } from '@remix-run/react';
import { useEffect, type ReactNode } from 'react';
import { ServiceWorker } from './components/pwa';
import { LanguageSwitcher, useLocale, useT } from './i18n';
import { useNonce } from './nonce';
import { catalogueChunk, pageLocale } from './services/all.server';
import appStyles from './styles/app.css';
import './client/shared-chunk'; // one shared chunk with React (ADR 025)

// The PWA's manifest and icons (issue 9): stable URLs under public/, linked from every page.
export const links: LinksFunction = () => [
  { rel: 'stylesheet', href: appStyles },
  { rel: 'manifest', href: '/manifest.webmanifest' },
  { rel: 'icon', href: '/icons/icon.svg', type: 'image/svg+xml' },
  { rel: 'apple-touch-icon', href: '/icons/apple-touch-icon.png' },
];

export const meta: MetaFunction = () => [{ title: 'Carepost' }];

// The page language (issue 9, item 3): `?lang=` (the signed-out page, after Clear-Site-Data dropped the cookie), the
// switcher's cookie, then Accept-Language.
export function loader({ request, context }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  // The admin console and the developer pages stay in English (ADR 014), so their <html lang> says so.
  const locale = /^\/(admin|dev)(\/|$)/.test(url.pathname) ? ('en' as const) : pageLocale(request, context.identity.cookies);
  // The page's words are a chunk of their own (ADR 022), preloaded so they arrive with the other scripts.
  return { locale, catalogueChunk: catalogueChunk(locale) };
}

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  const chunk = (useRouteLoaderData('root') as { catalogueChunk?: string } | undefined)?.catalogueChunk;
  const locale = useLocale();
  const t = useT();
  useEffect(() => {
    // Lets tests and people see that the scripts ran under the enforced CSP.
    document.documentElement.dataset.hydrated = 'true';
  }, []);
  return (
    <html lang={locale}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <meta name="theme-color" content="#1f5f8b" />
        <Meta />
        <Links />
        {chunk ? <link rel="modulepreload" href={chunk} /> : null}
      </head>
      <body>
        <a className="skip-link" href="#main">
          {t('common.skipLink')}
        </a>
        {children}
        <ServiceWorker />
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  const t = useT();
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <LanguageSwitcher />
      <h1>{notFound ? t('error.notFound.title') : t('error.generic.title')}</h1>
      <p>{notFound ? t('error.notFound.body') : t('error.generic.body')}</p>
      <p>
        <a href="/">{t('error.home')}</a>
      </p>
    </main>
  );
}
