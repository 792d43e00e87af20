// AV5: a copy of what the patient signed, as one self-contained HTML file: the exact text they saw and the evidence
// of how they signed. Everything from the database is escaped; the file loads nothing from anywhere.
import type { AuthorizationTextTranslation } from '../../db/schema/index';
import { LOCALE_NAMES, isLocale, type Locale } from '../i18n/locale';
import { translator } from '../i18n/catalogues';
import { formatDateTime, type UiKey } from '../i18n/translate';
import type { signedRecord } from './overview';
import { textSections } from './overview';

/** The record, and the translation the patient read and signed when it was not the original (issue 9). */
export type SignedRecord = NonNullable<Awaited<ReturnType<typeof signedRecord>>> & { translation?: AuthorizationTextTranslation };

/** The words the patient signed: the translation they read, or the original version. */
export function signedBody(record: SignedRecord): { body: string; language: string } {
  return record.translation ? { body: record.translation.body, language: record.translation.locale } : { body: record.text.body!, language: record.text.language };
}

const languageName = (tag: string) => (isLocale(tag) ? LOCALE_NAMES[tag] : tag);

export const METHOD_WORDS: Record<string, string> = {
  code_email: 'a one-time code sent by email',
  code_sms: 'a one-time code sent by text message',
  code_dob: 'a one-time code and date of birth',
  passkey: 'a passkey',
};

/** The evidence rows, in the order shown on the page and in the file; in the patient's language when not English. */
export function evidenceRows(record: SignedRecord, orgName: string, locale: Locale = 'en', timeZone = 'UTC'): [string, string][] {
  if (locale !== 'en') return localisedEvidenceRows(record, orgName, locale, timeZone);
  const e = record.event;
  const rows: [string, string][] = [
    ['Organisation', orgName],
    ['Permission', record.topic.name],
    ['Record', `${e.kind === 'renewed' ? 'Renewal' : 'Grant'} ${e.id}`],
    ['Signed by (typed name)', e.evidence.signatureName ?? ''],
    ['Signed at', e.occurredAt.toISOString()],
    ['Valid until (exclusive)', e.expiresAt?.toISOString() ?? ''],
    ['Contact by', e.channels.join(', ')],
    ['Identity verified with', `${METHOD_WORDS[e.evidence.method] ?? e.evidence.method}, at ${e.evidence.verifiedAt}`],
    ['IP address', e.evidence.ipAddress],
    ['Browser', e.evidence.userAgent ?? 'not sent'],
    ['Text version', `${record.text.version} (${record.text.language})`],
    ['SHA-256 of the text', e.textHash],
  ];
  if (record.translation) {
    rows.push(['Language read and signed', `${languageName(record.translation.locale)} (translation of version ${record.text.version})`]);
    rows.push(['SHA-256 of the translation', record.translation.contentHash]);
  }
  if (e.renewsEventId) rows.push(['Renews record', e.renewsEventId]);
  return rows;
}

function localisedEvidenceRows(record: SignedRecord, orgName: string, locale: Locale, timeZone: string): [string, string][] {
  const t = translator(locale);
  const e = record.event;
  const when = (d: Date) => `${formatDateTime(d, locale, timeZone)} (${d.toISOString()})`;
  const rows: [string, string][] = [
    [t('record.row.org'), orgName],
    [t('record.row.permission'), record.topic.name],
    [t('record.row.record'), `${t(e.kind === 'renewed' ? 'record.renewal' : 'record.grant')} ${e.id}`],
    [t('record.row.signedBy'), e.evidence.signatureName ?? ''],
    [t('record.row.signedAt'), when(e.occurredAt)],
    [t('record.row.validUntil'), e.expiresAt ? when(e.expiresAt) : ''],
    [t('record.row.contactBy'), e.channels.map((c) => t(`channel.${c}` as UiKey)).join(', ')],
    [t('record.row.verified'), t('record.verifiedWith', { method: METHOD_WORDS[e.evidence.method] ? t(`record.method.${e.evidence.method}` as UiKey) : e.evidence.method, at: e.evidence.verifiedAt })],
    [t('record.row.ip'), e.evidence.ipAddress],
    [t('record.row.browser'), e.evidence.userAgent ?? t('record.notSent')],
    [t('record.row.version'), `${record.text.version} (${languageName(record.text.language)})`],
    [t('record.row.hash'), e.textHash],
  ];
  if (record.translation) {
    rows.push([t('record.row.language'), t('record.translationOf', { language: languageName(record.translation.locale), version: record.text.version })]);
    rows.push([t('record.row.translationHash'), record.translation.contentHash]);
  }
  if (e.renewsEventId) rows.push([t('record.row.renews'), e.renewsEventId]);
  return rows;
}

const escape = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function recordFileName(record: SignedRecord): string {
  return `authorisation-${record.topic.key}-${record.event.occurredAt.toISOString().slice(0, 10)}.html`;
}

export function renderRecordHtml(record: SignedRecord, orgName: string, locale: Locale = 'en', timeZone = 'UTC'): string {
  const signed = signedBody(record);
  const text = textSections(signed.body);
  const t = translator(locale);
  const sections = text.sections
    .map((s) => `<h3>${escape(s.heading)}</h3>\n${s.paragraphs.map((p) => `<p>${escape(p)}</p>`).join('\n')}`)
    .join('\n');
  const rows = evidenceRows(record, orgName, locale, timeZone)
    .map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`)
    .join('\n');
  return `<!doctype html>
<html lang="${escape(locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escape(t('record.title', { topic: record.topic.name }))}</title>
<style>
body{font-family:system-ui,sans-serif;line-height:1.5;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
section{border:1px solid #c4c8cf;border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
</style>
</head>
<body>
<h1>${escape(t('record.title', { topic: record.topic.name }))}</h1>
<p>${escape(t('record.fileIntro', { name: record.patientName, org: orgName }))}</p>
<section lang="${escape(signed.language)}">
<h2>${escape(text.title)}</h2>
${sections}
</section>
<h2>${escape(t('record.how'))}</h2>
<dl>
${rows}
</dl>
</body>
</html>
`;
}
