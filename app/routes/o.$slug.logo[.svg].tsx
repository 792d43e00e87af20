import type { LoaderFunctionArgs } from '@remix-run/node';
import { getOrganisationLogo } from '../services/organisations.server';

// The organisation's logo, served as an image from our own origin. A sandboxing CSP keeps an SVG opened on its own
// from running anything.
export async function loader({ params, context }: LoaderFunctionArgs) {
  const svg = await getOrganisationLogo(context.db, params.slug ?? '');
  if (!svg) return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(svg, {
    headers: {
      'Content-Type': 'image/svg+xml',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'Cache-Control': 'public, max-age=300',
    },
  });
}
