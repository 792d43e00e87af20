// AV5: a copy of what the patient signed, as one self-contained HTML file: the exact text they saw and the evidence
// of how they signed. Everything from the database is escaped; the file loads nothing from anywhere.
import type { signedRecord } from './overview';
import { textSections } from './overview';

export type SignedRecord = NonNullable<Awaited<ReturnType<typeof signedRecord>>>;

export const METHOD_WORDS: Record<string, string> = {
  code_email: 'a one-time code sent by email',
  code_sms: 'a one-time code sent by text message',
  code_dob: 'a one-time code and date of birth',
  passkey: 'a passkey',
};

/** The evidence rows, in the order shown on the page and in the file. */
export function evidenceRows(record: SignedRecord, orgName: string): [string, string][] {
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
  if (e.renewsEventId) rows.push(['Renews record', e.renewsEventId]);
  return rows;
}

const escape = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function recordFileName(record: SignedRecord): string {
  return `authorisation-${record.topic.key}-${record.event.occurredAt.toISOString().slice(0, 10)}.html`;
}

export function renderRecordHtml(record: SignedRecord, orgName: string): string {
  const text = textSections(record.text.body!);
  const sections = text.sections
    .map((s) => `<h3>${escape(s.heading)}</h3>\n${s.paragraphs.map((p) => `<p>${escape(p)}</p>`).join('\n')}`)
    .join('\n');
  const rows = evidenceRows(record, orgName)
    .map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`)
    .join('\n');
  return `<!doctype html>
<html lang="${escape(record.text.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escape(`Your signed permission: ${record.topic.name}`)}</title>
<style>
body{font-family:system-ui,sans-serif;line-height:1.5;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
section{border:1px solid #c4c8cf;border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
</style>
</head>
<body>
<h1>${escape(`Your signed permission: ${record.topic.name}`)}</h1>
<p>This is a copy of the permission ${escape(record.patientName)} signed for ${escape(orgName)}, and the record of how it was signed. It is kept for at least six years.</p>
<section>
<h2>${escape(text.title)}</h2>
${sections}
</section>
<h2>How it was signed</h2>
<dl>
${rows}
</dl>
</body>
</html>
`;
}
