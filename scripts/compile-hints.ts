// V8's explicit compile hint (ADR 025): the magic comment `//# allFunctionsCalledOnLoad` at the top of a script tells
// V8 to compile every function in it eagerly, on the background thread that already parses the script while it
// downloads, instead of lazily on the main thread the first time each function runs. Every page runs most of
// React DOM and Remix while it hydrates, and esbuild wraps CommonJS packages (React DOM) in functions that V8 would
// otherwise compile only when first called, on the main thread, inside the one task that evaluates the page's
// modules. Only the shared chunks entry.client imports get the comment: they run on every page before hydration.
// Part of `npm run build` (scripts/build-sw.ts), before the precache list and the compressed copies are made.
import fs from 'node:fs';
import path from 'node:path';

export const COMPILE_HINT = '//# allFunctionsCalledOnLoad\n';
// A small chunk gains nothing measurable from it.
const MIN_BYTES = 16 * 1024;

/** Adds the hint to the large shared chunks entry.client imports; returns their paths under `buildDir`. */
export function addCompileHints(buildDir = 'public/build'): string[] {
  const entry = fs.readdirSync(buildDir).find((name) => /^entry\.client-[A-Z0-9]+\.js$/.test(name));
  if (!entry) throw new Error(`compile-hints: no entry.client chunk in ${buildDir}`);
  const imported = new Set([...fs.readFileSync(path.join(buildDir, entry), 'utf8').matchAll(/"\/build\/(_shared\/[\w-]+\.js)"/g)].map((m) => m[1]!));
  const hinted: string[] = [];
  for (const chunk of imported) {
    const file = path.join(buildDir, chunk);
    const source = fs.readFileSync(file, 'utf8');
    if (source.length < MIN_BYTES || source.startsWith(COMPILE_HINT)) continue;
    fs.writeFileSync(file, COMPILE_HINT + source);
    hinted.push(chunk);
  }
  return hinted;
}
