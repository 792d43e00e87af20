// Where the browser finds each page catalogue (ADR 022): the client build has one chunk per language, named by
// esbuild after its source file (public/build/_shared/ui-<locale>-<hash>.js). The root page preloads its language's
// chunk, so it downloads beside the other scripts rather than after them (entry.client imports it before hydrating).
import fs from 'node:fs';
import path from 'node:path';
import { isLocale, type Locale } from './locale';

const CHUNK = /^ui-([a-z]{2,3})-[A-Z0-9]+\.js$/;
let found: { dir: string; chunks: Partial<Record<Locale, string>> } | undefined;

/** `/build/_shared/ui-es-XXXX.js`, or undefined when there is no client build (tests that render no page scripts). */
export function catalogueChunk(locale: Locale, buildDir = path.resolve('public/build')): string | undefined {
  if (found?.dir !== buildDir) found = { dir: buildDir, chunks: readChunks(buildDir) };
  return found.chunks[locale];
}

function readChunks(buildDir: string): Partial<Record<Locale, string>> {
  const chunks: Partial<Record<Locale, string>> = {};
  let files: string[] = [];
  try {
    files = fs.readdirSync(path.join(buildDir, '_shared'));
  } catch {
    return chunks;
  }
  for (const file of files) {
    const locale = CHUNK.exec(file)?.[1];
    if (isLocale(locale)) chunks[locale] = `/build/_shared/${file}`;
  }
  return chunks;
}
