import { RemixBrowser } from '@remix-run/react';
import { startTransition, StrictMode } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { loadCatalogue } from './i18n';
import { isLocale } from '../server/i18n/locale';
import './client/shared-chunk'; // one shared chunk with React (ADR 025)

// Only the page's language is downloaded (ADR 022); the server rendered <html lang> from the same root loader value
// that useLocale() reads, so hydration finds the words it needs. If the chunk cannot be fetched the page stays as the
// server sent it: every form works without JavaScript.
const lang = document.documentElement.lang;
loadCatalogue(isLocale(lang) ? lang : 'en').then(
  () =>
    startTransition(() => {
      hydrateRoot(
        document,
        <StrictMode>
          <RemixBrowser />
        </StrictMode>,
      );
    }),
  () => undefined,
);
