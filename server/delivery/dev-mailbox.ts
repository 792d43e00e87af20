// Reads what the mail catcher kept, for the dev mailbox page. Outside production only (the route checks).
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { mailFolder } from './mail-catcher';

const ID_PATTERN = /^\d{14}-[0-9a-f]{8}$/;

export type MailSummary = { id: string; receivedAt: Date; from: string; to: string[]; subject: string };
export type MailView = MailSummary & { text: string; headers: { name: string; value: string }[]; attachments: { filename: string; contentType: string; size: number }[] };

export function isMailId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function readRawMail(dataDir: string, id: string): Buffer | undefined {
  if (!isMailId(id)) return undefined;
  const file = path.join(mailFolder(dataDir), `${id}.eml`);
  return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
}

export async function listMail(dataDir: string, limit = 100): Promise<MailSummary[]> {
  const folder = mailFolder(dataDir);
  if (!fs.existsSync(folder)) return [];
  const ids = fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => f.slice(0, -4))
    .filter(isMailId)
    .sort()
    .reverse()
    .slice(0, limit);
  const summaries: MailSummary[] = [];
  for (const id of ids) {
    const view = await readMail(dataDir, id);
    if (view) summaries.push({ id, receivedAt: view.receivedAt, from: view.from, to: view.to, subject: view.subject });
  }
  return summaries;
}

export async function readMail(dataDir: string, id: string): Promise<MailView | undefined> {
  const raw = readRawMail(dataDir, id);
  if (!raw) return undefined;
  const parsed = await simpleParser(raw);
  const envelopeHeader = parsed.headerLines.find((h) => h.key === 'x-carepost-envelope');
  const envelope = envelopeHeader
    ? (JSON.parse(envelopeHeader.line.slice(envelopeHeader.line.indexOf(':') + 1)) as { from: string; to: string[] })
    : { from: '', to: [] };
  return {
    id,
    receivedAt: new Date(Number(id.slice(0, 14))),
    from: parsed.from?.text ?? envelope.from,
    to: envelope.to,
    subject: parsed.subject ?? '(no subject)',
    text: parsed.text ?? '',
    headers: parsed.headerLines
      .filter((h) => h.key !== 'x-carepost-envelope')
      .map((h) => ({ name: h.line.slice(0, h.line.indexOf(':')), value: h.line.slice(h.line.indexOf(':') + 1).trim() })),
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? '(unnamed)', contentType: a.contentType, size: a.size })),
  };
}
