import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * The organisation's logo (app/routes/o.$slug.logo[.svg].tsx, ADR 016): an SVG that must run and load nothing, even
 * opened on its own. Its headers are set here, not by the route: Remix appends a route's headers to these, and two
 * policies would both apply (the page policy's nonce would also block the SVG's inline styles).
 */
const LOGO_PATH = /^\/o\/[^/]+\/logo\.svg$/;
export const LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/**
 * JSON API responses render nothing and load nothing: a fixed policy that allows nothing, and no nonce to make
 * (a random nonce per request was a measurable part of the preflight's CPU, issue 7).
 */
const API_PATH = /^\/api\//;
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** CX2: a fresh nonce per request, handed to Remix through the load context and used by <Scripts nonce>. */
export function securityHeaders(options: { isProduction: boolean }) {
  const policy = (nonce: string) =>
    [
      "default-src 'self'",
      `script-src 'self' 'nonce-${nonce}'`,
      `style-src 'self' 'nonce-${nonce}'`,
      "img-src 'self'",
      "font-src 'self'",
      "connect-src 'self'",
      "manifest-src 'self'",
      "worker-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
      ...(options.isProduction ? ['upgrade-insecure-requests'] : []),
    ].join('; ');
  return (req: Request, res: Response, next: NextFunction) => {
    const logo = LOGO_PATH.test(req.path);
    if (logo) res.setHeader('Content-Security-Policy', LOGO_CSP);
    else if (API_PATH.test(req.path)) res.setHeader('Content-Security-Policy', API_CSP);
    else {
      const nonce = randomBytes(16).toString('base64');
      res.locals.cspNonce = nonce;
      res.setHeader('Content-Security-Policy', policy(nonce));
    }
    if (options.isProduction) res.setHeader('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Links carry signed tokens: never leak a URL to another site. same-origin, not no-referrer: under no-referrer a
    // browser sends "Origin: null" on a plain form POST, which the CX1 check (and Remix's own) must refuse, so forms
    // would only work with JavaScript.
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader(
      'Permissions-Policy',
      'camera=(), microphone=(), geolocation=(), payment=(), usb=(), publickey-credentials-get=(self), publickey-credentials-create=(self)',
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    // PW1: nothing is cached unless a static handler below says otherwise for fingerprinted files.
    // The logo is public and changes rarely; the settings page adds a version to its URL after an upload.
    res.setHeader('Cache-Control', logo ? 'public, max-age=300' : 'no-store');
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CX1: a state-changing request from another site is refused. Browsers send Sec-Fetch-Site and Origin on
 * POST; a request with neither comes from a program, not a browser, and cannot ride a patient's cookies.
 * Paths with their own authentication and no cookies (the API, one-click unsubscribe) are exempt.
 */
export function refuseCrossSite(options: { allowedOrigins: string[]; exemptPrefixes?: string[] }) {
  const allowed = new Set(options.allowedOrigins);
  const exempt = options.exemptPrefixes ?? [];
  return (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method) || exempt.some((prefix) => req.path.startsWith(prefix))) return next();
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const crossSite = site !== undefined && site !== 'same-origin' && site !== 'none';
    const foreignOrigin = origin !== undefined && !allowed.has(origin);
    if (crossSite || foreignOrigin) {
      res.status(403).type('text/plain').send('Cross-site request refused.');
      return;
    }
    next();
  };
}
