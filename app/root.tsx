import type { LinksFunction, MetaFunction } from '@remix-run/node';
import { isRouteErrorResponse, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError } from '@remix-run/react';
import { useEffect, type ReactNode } from 'react';
import { ServiceWorker } from './components/pwa';
import { useNonce } from './nonce';
import appStyles from './styles/app.css';

// The PWA's manifest and icons (issue 9): stable URLs under public/, linked from every page.
export const links: LinksFunction = () => [
  { rel: 'stylesheet', href: appStyles },
  { rel: 'manifest', href: '/manifest.webmanifest' },
  { rel: 'icon', href: '/icons/icon.svg', type: 'image/svg+xml' },
  { rel: 'apple-touch-icon', href: '/icons/apple-touch-icon.png' },
];

export const meta: MetaFunction = () => [{ title: 'Carepost' }];

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  useEffect(() => {
    // Lets tests and people see that the scripts ran under the enforced CSP.
    document.documentElement.dataset.hydrated = 'true';
  }, []);
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <meta name="theme-color" content="#1f5f8b" />
        <Meta />
        <Links />
      </head>
      <body>
        <a className="skip-link" href="#main">
          Skip to main content
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
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <main id="main" className="page page--plain" tabIndex={-1}>
      <h1>{notFound ? 'Page not found' : 'Something went wrong'}</h1>
      <p>
        {notFound
          ? 'We could not find that page. Check the link you were sent, or ask your provider for a new one.'
          : 'Something went wrong on our side. Please try again in a moment.'}
      </p>
      <p>
        <a href="/">Go to the Carepost home page</a>
      </p>
    </main>
  );
}
