// Issue 9, item 3: the catalogues are complete and agree, Accept-Language is negotiated by q-value, messages format.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatMessage, placeholdersOf } from '../../server/i18n/format';
import { negotiateLocale, toLocale } from '../../server/i18n/locale';
import { noticeTexts } from '../../server/i18n/notices';
import { translateServerText } from '../../server/i18n/server-texts';
import { translator, UI_CATALOGUES } from '../../server/i18n/catalogues';
import { formatDate } from '../../server/i18n/translate';
import { en } from '../../server/i18n/ui-en';
import { es } from '../../server/i18n/ui-es';

describe('catalogues', () => {
  it('every key is in both languages, non-empty, with the same placeholders, and parses', () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
    for (const [key, english] of Object.entries(en)) {
      const spanish = es[key as keyof typeof en];
      expect(spanish.trim(), key).not.toBe('');
      expect(placeholdersOf(spanish), key).toEqual(placeholdersOf(english));
      // Formatting with every placeholder filled leaves no braces behind.
      const params = Object.fromEntries(placeholdersOf(english).map((p) => [p, 2]));
      expect(formatMessage('en', english, params), key).not.toMatch(/[{}]/);
      expect(formatMessage('es', spanish, params), key).not.toMatch(/[{}]/);
    }
  });

  it('the Spanish catalogue is really translated: most texts differ from the English', () => {
    const same = Object.keys(en).filter((k) => en[k as keyof typeof en] === es[k as keyof typeof en]);
    // Only words that are the same in both languages (Error:, Carepost titles, "Email" style brand words) may match.
    expect(same.length).toBeLessThan(Object.keys(en).length * 0.03);
  });

  it('ICU-lite plurals and placeholders', () => {
    expect(formatMessage('en', 'You can try {n, plural, one {# more time} other {# more times}}.', { n: 1 })).toBe('You can try 1 more time.');
    expect(formatMessage('es', 'Puede intentarlo {n, plural, one {# vez más} other {# veces más}}.', { n: 3 })).toBe('Puede intentarlo 3 veces más.');
    expect(formatMessage('en', '{n, plural, =0 {none} one {# file} other {# files}}', { n: 0 })).toBe('none');
    expect(translator('es')('code.wrong', { tries: 1 })).toBe('Ese código no es correcto. Puede intentarlo 1 vez más.');
    expect(translator('en')('layout.footer', { org: 'Riverside' })).toContain('for Riverside');
  });

  it('dates follow the locale and the time zone', () => {
    const instant = '2027-03-03T02:30:00Z';
    expect(formatDate(instant, 'en', 'America/Chicago')).toBe('March 2, 2027');
    expect(formatDate(instant, 'es', 'America/Chicago')).toBe('2 de marzo de 2027');
    expect(formatDate(instant, 'es', 'UTC')).toBe('3 de marzo de 2027');
  });

  it('both languages have every notice, and the Spanish ones are Spanish', () => {
    expect(Object.keys(noticeTexts('es')).sort()).toEqual(Object.keys(noticeTexts('en')).sort());
    expect(noticeTexts('es').codeEmail({ org: 'Clínica', code: '123456' }).text).toContain('Su código es 123456');
    expect(noticeTexts('es-MX').portalNotice({ org: 'Clínica', url: 'https://x', days: 1 }).text).toContain('1 día.');
    expect(noticeTexts('fr').portalNotice({ org: 'Clinic', url: 'https://x', days: 2 }).subject).toBe('New message from Clinic');
  });

  it('server field errors have Spanish words, and unknown sentences stay as they are', () => {
    expect(translateServerText('es', 'Type your full name to sign.')).toBe('Escriba su nombre completo para firmar.');
    expect(translateServerText('es', 'Choose a date within 366 days.')).toBe('Elija una fecha dentro de los próximos 366 días.');
    expect(translateServerText('es', 'Something new.')).toBe('Something new.');
    expect(translateServerText('en', 'Type your full name to sign.')).toBe('Type your full name to sign.');
  });

  it('every engine reason code, route, channel and frequency has words in the catalogues', async () => {
    const { BLOCK_REASONS, DEFER_REASONS, ROUTE_WORDS } = await import('../../app/utils/delivery-words');
    const { CHANNELS, FREQUENCY_CHOICES } = await import('../../app/utils/consent-words');
    const keys = [
      ...BLOCK_REASONS.map((r) => `delivery.block.${r}`),
      ...DEFER_REASONS.map((r) => `delivery.defer.${r}`),
      ...Object.keys(ROUTE_WORDS).map((r) => `delivery.route.${r}`),
      ...CHANNELS.map((c) => `channel.${c}`),
      ...FREQUENCY_CHOICES.map((f) => `frequency.${f}`),
    ];
    for (const key of keys) expect(Object.hasOwn(en, key), key).toBe(true);
  });

  it('the catalogue table has exactly the two languages we speak', () => {
    expect(Object.keys(UI_CATALOGUES).sort()).toEqual(['en', 'es']);
  });
});

describe('Accept-Language negotiation', () => {
  it.each([
    [null, 'en'],
    ['', 'en'],
    ['es', 'es'],
    ['es-MX', 'es'],
    ['es-419,es;q=0.9', 'es'],
    ['en-US,en;q=0.9,es;q=0.8', 'en'],
    ['fr-FR,es;q=0.5,en;q=0.3', 'es'],
    ['en;q=0.2, es;q=0.8', 'es'],
    ['es;q=0, en', 'en'],
    ['fr, de', 'en'],
    ['*', 'en'],
    ['zz;q=abc, es;q=0.1', 'es'],
  ])('%s → %s', (header, expected) => {
    expect(negotiateLocale(header)).toBe(expected);
  });

  it('a stored tag maps to a language we speak, or nothing', () => {
    expect(toLocale('es_US')).toBe('es');
    expect(toLocale('EN')).toBe('en');
    expect(toLocale('pt-BR')).toBeUndefined();
  });
});

describe('patient routes use the catalogue', () => {
  // Routes that show a patient nothing to read: the logo image, the "stay signed in" ping, the switcher's target, and
  // the catch-all whose 404 the root error boundary renders (in the page's language).
  const NO_WORDS = new Set(['o.$slug.logo[.svg].tsx', 'o.$slug.session.tsx', 'language.tsx', '$.tsx']);

  it('every patient route (o.$slug.*, the home page, the catch-all) speaks through t(), or is listed as wordless', () => {
    const routes = readdirSync('app/routes').filter((f) => f.startsWith('o.$slug') || f === '_index.tsx' || f === '$.tsx' || f === 'language.tsx');
    expect(routes.length).toBeGreaterThan(30);
    const untranslated = routes.filter((f) => !NO_WORDS.has(f) && !/\b(useT|metaT|pageT|translator)\(/.test(readFileSync(`app/routes/${f}`, 'utf8')));
    expect(untranslated).toEqual([]);
  });
});

describe('plural counts (ADR 025)', () => {
  it('a count reads as Intl.NumberFormat would write it, with or without the formatter', () => {
    const template = '{count, plural, one {# message} other {# messages}}';
    for (const locale of ['en', 'es'] as const) {
      const intl = new Intl.NumberFormat(locale === 'en' ? 'en-US' : 'es-US');
      for (const n of [0, 1, 7, 999, 1000, 12345, 2.5, -3]) expect(formatMessage(locale, template, { count: n })).toMatch(new RegExp(`^${intl.format(n).replace(/[.]/g, '\\.')} messages?$`));
    }
  });
});
