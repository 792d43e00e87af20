// Plain words for consent states and choices, shared by the patient's pages.
import { formatDate as formatLocalDate, formatList, type Translate, type UiKey } from '../../server/i18n/translate';
import type { Locale } from '../../server/i18n/locale';
export const CHANNEL_LABELS: Record<string, string> = { email: 'Email', sms: 'Text message', push: 'Phone notification', portal: 'Message in this portal' };
/** In the order shown; a unit test keeps these the same as the server's lists. */
export const CHANNELS = Object.keys(CHANNEL_LABELS);
export const FREQUENCY_LABELS: Record<string, string> = { immediate: 'As it happens', weekly: 'Weekly at most', monthly: 'Monthly at most', paused: 'Paused until a date' };

export const FREQUENCY_CHOICES = Object.keys(FREQUENCY_LABELS);

export function formatDate(iso: string, timeZone = 'UTC'): string {
  return new Date(iso).toLocaleDateString('en-US', { dateStyle: 'long', timeZone });
}

// One formatter per time zone: building an Intl.DateTimeFormat costs about 100 µs, using one about 1 µs, and a page
// of 25 messages formats 25 dates (bench:inbox).
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

export function formatDateTime(iso: string, timeZone = 'UTC'): string {
  let format = dateTimeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short' });
    if (dateTimeFormats.size < 500) dateTimeFormats.set(timeZone, format);
  }
  return format.format(new Date(iso));
}

export function listChannels(channels: string[]): string {
  const words = channels.map((c) => (CHANNEL_LABELS[c] ?? c).toLowerCase());
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

export type StatusView =
  | { kind: 'active'; expiresAt: string; grantedAt: string; channels: string[]; grantEventId: string }
  | { kind: 'revoked'; revokedAt: string; grantEventId: string }
  | { kind: 'expired'; expiredAt: string; grantEventId: string }
  | { kind: 'never' };

/** "Active until 3 March 2027", "Revoked on ...", "Expired on ...", "Never granted". */
export function statusWords(status: StatusView, timeZone: string): string {
  switch (status.kind) {
    case 'active':
      return `Active until ${formatDate(status.expiresAt, timeZone)}`;
    case 'revoked':
      return `Revoked on ${formatDate(status.revokedAt, timeZone)}`;
    case 'expired':
      return `Expired on ${formatDate(status.expiredAt, timeZone)}`;
    default:
      return 'Never granted';
  }
}

// The same words in the patient's language (issue 9): the pages above use these; the English constants stay for the
// admin console, which is English only (ADR 014).
export function channelWord(channel: string, t: Translate): string {
  return CHANNEL_LABELS[channel] ? t(`channel.${channel}` as UiKey) : channel;
}

export function frequencyWord(frequency: string, t: Translate): string {
  return FREQUENCY_LABELS[frequency] ? t(`frequency.${frequency}` as UiKey) : frequency;
}

export function channelList(channels: string[], t: Translate, locale: Locale): string {
  return formatList(
    channels.map((c) => channelWord(c, t).toLowerCase()),
    locale,
  );
}

export function statusText(status: StatusView, timeZone: string, t: Translate, locale: Locale): string {
  switch (status.kind) {
    case 'active':
      return t('status.active', { date: formatLocalDate(status.expiresAt, locale, timeZone) });
    case 'revoked':
      return t('status.revoked', { date: formatLocalDate(status.revokedAt, locale, timeZone) });
    case 'expired':
      return t('status.expired', { date: formatLocalDate(status.expiredAt, locale, timeZone) });
    default:
      return t('status.never');
  }
}
