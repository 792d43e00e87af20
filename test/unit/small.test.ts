import { describe, expect, it } from 'vitest';
import { parseConcurrency } from '../../server/delivery/worker-loop';
import { loggablePath } from '../../server/http/request-log';
import { contrastRatio, readableTextColor } from '../../server/orgs/branding';

describe('branding', () => {
  it('picks the text colour that meets WCAG AA contrast on any brand colour', () => {
    for (const colour of ['#767676', '#7a7a7a', '#0b6e4f', '#ffcc00', '#1f5f8b', '#ffffff', '#000000', '#777777', '#e11d48', '#a3e635']) {
      expect(contrastRatio(colour, readableTextColor(colour)), colour).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe('worker arguments', () => {
  it('reads --concurrency N and --concurrency=N, defaulting to 1', () => {
    expect(parseConcurrency([])).toBe(1);
    expect(parseConcurrency(['--concurrency', '4'])).toBe(4);
    expect(parseConcurrency(['--concurrency=8'])).toBe(8);
  });
  it('refuses nonsense with a clear message', () => {
    for (const bad of [['--concurrency', '0'], ['--concurrency', 'x'], ['--concurrency'], ['--concurrency=65'], ['--concurrency', '1.5']]) {
      expect(() => parseConcurrency(bad)).toThrow(/whole number from 1 to 64/);
    }
  });
});

describe('log paths', () => {
  it('masks token-like segments and leaves ordinary paths alone', () => {
    expect(loggablePath('/o/riverside/sign-in')).toBe('/o/riverside/sign-in');
    expect(loggablePath('/p/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl')).toBe('/p/:token');
    expect(loggablePath('/dev/mail/00000001234567-deadbeef')).toBe('/dev/mail/00000001234567-deadbeef');
    expect(loggablePath('/m/0b6e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b/view')).toBe('/m/0b6e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b/view');
  });
});

describe('consent words shown in the browser', () => {
  it('list the same channels and frequencies, in the same order, as the server accepts', async () => {
    const { CHANNELS, FREQUENCY_CHOICES } = await import('../../app/utils/consent-words');
    const { CONSENT_CHANNELS } = await import('../../server/consent/ledger');
    const { FREQUENCIES } = await import('../../server/consent/preferences');
    expect(CHANNELS).toEqual(CONSENT_CHANNELS);
    expect(FREQUENCY_CHOICES).toEqual(FREQUENCIES);
  });
});
