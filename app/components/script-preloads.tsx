import { UNSAFE_RemixContext, useMatches } from '@remix-run/react';
import { useContext, useState } from 'react';

// The first paint needs the document and the stylesheet, not the scripts: module scripts run after parsing, and every
// page works as the server sent it. Remix preloads the page's scripts at the end of the body with the default
// (high) priority, so on a phone's slow link about 100 KB of script shares the bandwidth with the stylesheet and the
// paint waits for it. These are the same preloads, in <head>, at low priority (ADR 023): the browser requests them at
// once but serves the stylesheet first; Remix's own preloads for the same URLs then fetch nothing again.
// `fetchpriority` in lower case: React 18 passes it through as written (it does not know the camel-cased prop yet).
const LOW = { fetchpriority: 'low' } as Record<string, string>;

/** The scripts `<Scripts>` will preload for this page (entry, its chunks, each matched route's module and chunks), plus `extra`. */
export function ScriptPreloads({ extra }: { extra?: string }) {
  const remix = useContext(UNSAFE_RemixContext);
  const matches = useMatches();
  // Computed once, as Remix does: after hydration the router loads what a navigation needs by itself.
  const [hrefs] = useState(() => {
    const manifest = remix?.manifest;
    if (!manifest) return extra ? [extra] : [];
    const routes = matches.flatMap((match) => {
      const route = manifest.routes[match.id];
      return route ? [...(route.imports ?? []), route.module] : [];
    });
    return [...new Set([manifest.entry.module, ...manifest.entry.imports, ...(extra ? [extra] : []), ...routes])];
  });
  return (
    <>
      {hrefs.map((href) => (
        <link key={href} rel="modulepreload" href={href} {...LOW} />
      ))}
    </>
  );
}
