// Static files: the Remix browser build, the PWA files (manifest, icons, service worker, offline page) and their
// caching rules. Text files are compressed once at build time (scripts/compress-static.ts), not per request: no CPU
// spent per response. Dynamic pages are compressed per request, and only under the rule of compression.ts (ADR 023).
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { acceptedEncodings } from './compression';

const YEAR = 'public, max-age=31536000, immutable';
const HOUR = 'public, max-age=3600';
// The worker script and the manifest must be checked on every load so a new version is found at once; the
// offline page is precached under a revision, so the browser's own copy must not outlive it either.
const REVALIDATE = 'no-cache';
const REVALIDATED_FILES = new Set(['/sw.js', '/manifest.webmanifest', '/offline.html', '/offline.css']);

export function cacheControlFor(urlPath: string): string {
  if (urlPath.startsWith('/build/')) return YEAR;
  return REVALIDATED_FILES.has(urlPath) ? REVALIDATE : HOUR;
}

export function staticFiles(publicDir: string) {
  const router = express.Router();
  router.use(precompressed(publicDir));
  // serve-static never replaces a Cache-Control header already set (securityHeaders sets no-store), so set it here.
  router.use(
    express.static(publicDir, {
      index: false,
      setHeaders: (res, filePath) => {
        const urlPath = `/${path.relative(publicDir, filePath).split(path.sep).join('/')}`;
        res.setHeader('Cache-Control', cacheControlFor(urlPath));
        res.setHeader('Vary', 'Accept-Encoding');
        // The service worker's scope is the whole site (its default, as it is served from /).
        if (urlPath === '/sw.js') res.setHeader('Service-Worker-Allowed', '/');
      },
    }),
  );
  return router;
}

/** Serves `<file>.br` or `<file>.gz`, written at build time, to a browser that accepts it. */
function precompressed(publicDir: string) {
  const root = path.resolve(publicDir);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // The same reading of Accept-Encoding as for pages: weights count, so `br;q=0` means no brotli.
    const encodings = acceptedEncodings(req.get('accept-encoding')).map((name) => [name, name === 'br' ? '.br' : '.gz'] as const);
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(req.path);
    } catch {
      return next();
    }
    const file = path.resolve(root, `.${path.posix.normalize(urlPath)}`);
    if (!file.startsWith(root + path.sep)) return next();
    for (const encoding of encodings) {
      if (!fs.existsSync(file + encoding[1])) continue;
      res.setHeader('Content-Encoding', encoding[0]);
      res.setHeader('Vary', 'Accept-Encoding');
      res.setHeader('Cache-Control', cacheControlFor(urlPath));
      if (urlPath === '/sw.js') res.setHeader('Service-Worker-Allowed', '/');
      // The type of the file itself, not of its compressed copy (send keeps a Content-Type already set).
      res.type(path.extname(file));
      res.sendFile(file + encoding[1], { dotfiles: 'deny' }, (error) => error && next(error));
      return;
    }
    next();
  };
}
