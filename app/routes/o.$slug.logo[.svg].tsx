import type { LoaderFunctionArgs } from '@remix-run/node';
import { getOrganisationLogo } from '../services/all.server';

// The organisation's logo, served as an image from our own origin. It was sanitised on upload (server/orgs/logo.ts,
// ADR 016). Its security headers come from server/http/security.ts for this path: a sandboxing CSP that loads nothing
// (default-src 'none'; style-src 'unsafe-inline'), so an SVG opened on its own runs and fetches nothing, nosniff, and
// a short public cache. Set there, not here, because Remix appends a route's headers to the middleware's.
export async function loader({ params, context }: LoaderFunctionArgs) {
  const svg = await getOrganisationLogo(context.db, params.slug ?? '');
  if (!svg) return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(svg, { headers: { 'Content-Type': 'image/svg+xml' } });
}
