// ADR 022: the browser registers only its page's language; t() works with whatever is registered, and pages hear
// about a language that arrives later. This file imports no catalogue module, so it starts with none registered.
import { describe, expect, it, vi } from 'vitest';
import { cataloguesVersion, hasCatalogue, registerCatalogue, subscribeCatalogues, translator, type UiCatalogue } from '../../server/i18n/translate';

describe('page catalogue registry', () => {
  it('with nothing registered, t() says so instead of showing keys', () => {
    expect(() => translator('en')).toThrow(/no page catalogue/);
  });

  it('a page registers its own language only, and a missing one falls back to a loaded one until it arrives', async () => {
    const { es } = await import('../../server/i18n/ui-es');
    const heard = vi.fn();
    const unsubscribe = subscribeCatalogues(heard);
    const before = cataloguesVersion();
    registerCatalogue('es', es);
    expect(hasCatalogue('es')).toBe(true);
    expect(hasCatalogue('en')).toBe(false);
    expect(heard).toHaveBeenCalledTimes(1);
    expect(cataloguesVersion()).toBe(before + 1);
    expect(translator('es')('common.signIn')).toBe('Iniciar sesión');
    expect(translator('en')('common.signIn')).toBe('Iniciar sesión');

    registerCatalogue('en', { 'common.signIn': 'Sign in' } as UiCatalogue);
    expect(translator('en')('common.signIn')).toBe('Sign in');
    expect(heard).toHaveBeenCalledTimes(2);
    // The same catalogue again is no change.
    registerCatalogue('es', es);
    expect(heard).toHaveBeenCalledTimes(2);
    unsubscribe();
  });
});

describe('catalogue chunks in the client build', () => {
  it('finds each language chunk by its esbuild name, and nothing without a build', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { catalogueChunk } = await import('../../server/i18n/catalogue-chunks');
    const build = mkdtempSync(path.join(tmpdir(), 'carepost-build-'));
    try {
      expect(catalogueChunk('es', build)).toBeUndefined();
      const other = mkdtempSync(path.join(tmpdir(), 'carepost-build-'));
      mkdirSync(path.join(other, '_shared'));
      for (const file of ['ui-en-KESIYUFB.js', 'ui-es-XWXXZJPM.js', 'ui-fr-AAAAAAAA.js', 'chunk-UI2ES3AB.js', 'ui-es-XWXXZJPM.js.br']) writeFileSync(path.join(other, '_shared', file), '');
      expect(catalogueChunk('es', other)).toBe('/build/_shared/ui-es-XWXXZJPM.js');
      expect(catalogueChunk('en', other)).toBe('/build/_shared/ui-en-KESIYUFB.js');
      rmSync(other, { recursive: true, force: true });
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  });
});
