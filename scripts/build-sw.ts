// Builds the service worker after `remix build` (npm run build): esbuild bundles app/sw/sw.ts with its imports
// (Workbox, the routing rules, sibling modules such as the web push handlers), then Workbox's injectManifest writes
// the list of files to precache into it. Output: public/sw.js, served at /sw.js with scope "/". Last, every text
// file in public/ gets a brotli and a gzip copy (scripts/compress-static.ts). First of all, the large shared chunks
// every page runs before hydrating get V8's compile hint (scripts/compile-hints.ts, ADR 025).
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { injectManifest } from 'workbox-build';
import { OFFLINE_ASSETS } from '../app/sw/routing';
import { addCompileHints } from './compile-hints';
import { compressStaticFiles } from './compress-static';

const started = Date.now();
const hinted = addCompileHints('public/build');
if (hinted.length === 0) throw new Error('build-sw: no shared chunk got the compile hint (scripts/compile-hints.ts)');
const bundled = path.resolve('.cache/sw/sw.js');
fs.mkdirSync(path.dirname(bundled), { recursive: true });

await build({
  entryPoints: ['app/sw/sw.ts'],
  outfile: bundled,
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  // Workbox strips its development logging under this constant.
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

const result = await injectManifest({
  swSrc: bundled,
  swDest: 'public/sw.js',
  globDirectory: 'public',
  // PW1: fingerprinted build files and the static offline page only; never a route's HTML or data.
  globPatterns: ['build/**/*.{js,css}', ...OFFLINE_ASSETS.map((url) => url.slice(1))],
  // A patient's phone has no use for the admin console's or the dev mailbox's pages; they load from the network.
  globIgnores: ['build/routes/admin.*', 'build/routes/dev.*'],
  // Build file names carry a content hash already: no revision query needed.
  dontCacheBustURLsMatching: /^\/?build\//,
  modifyURLPrefix: { '': '/' },
  maximumFileSizeToCacheInBytes: 1024 * 1024,
});
for (const warning of result.warnings) console.warn(`build-sw: ${warning}`);
const compressed = compressStaticFiles('public');
console.log(
  `build-sw: public/sw.js precaches ${result.count} files (${(result.size / 1024).toFixed(0)} KB); ` +
    `compile hint in ${hinted.join(', ')}; ${compressed.files} files precompressed (${(compressed.bytes / 1024).toFixed(0)} KB, brotli ${(compressed.brotliBytes / 1024).toFixed(0)} KB) in ${Date.now() - started} ms`,
);
