// ADR 025: the build puts V8's compile hint on the large shared chunks entry.client imports, and on nothing else.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addCompileHints, COMPILE_HINT } from '../../scripts/compile-hints';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function buildDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-hints-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const big = `import{a}from"/build/_shared/chunk-RUNTIME1.js";var x=a(()=>{${'f();'.repeat(6000)}});export{x as a};`;

describe('compile hints', () => {
  it('hint the large chunks entry.client imports, not small ones, other chunks or route modules, and only once', () => {
    const dir = buildDir({
      'entry.client-ABC123.js': 'import{a as b}from"/build/_shared/chunk-REACT111.js";import"/build/_shared/chunk-RUNTIME1.js";b();',
      '_shared/chunk-REACT111.js': big,
      '_shared/chunk-RUNTIME1.js': 'var a=(f)=>()=>f();export{a};',
      '_shared/chunk-ADMIN111.js': big,
      'routes/o.$slug.sign-in-XYZ.js': big,
    });
    expect(addCompileHints(dir)).toEqual(['_shared/chunk-REACT111.js']);
    const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    expect(read('_shared/chunk-REACT111.js')).toBe(COMPILE_HINT + big);
    expect(read('_shared/chunk-RUNTIME1.js').startsWith(COMPILE_HINT)).toBe(false);
    expect(read('_shared/chunk-ADMIN111.js')).toBe(big);
    expect(read('routes/o.$slug.sign-in-XYZ.js')).toBe(big);
    expect(addCompileHints(dir)).toEqual([]);
    expect(read('_shared/chunk-REACT111.js')).toBe(COMPILE_HINT + big);
  });

  it('a build without entry.client is an error, not a silent no-op', () => {
    expect(() => addCompileHints(buildDir({ '_shared/chunk-REACT111.js': big }))).toThrow(/no entry.client/);
  });
});
