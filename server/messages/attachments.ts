// Attachments (issue 6, item 3): sealed in the vault with their names, served only as downloads with a type from an
// allow-list, so a file can never run as a page on our origin.
import type { KekRing } from './vault';
import { seal } from './vault';

export const ATTACHMENT_CONTENT = 'attachment-content';
export const ATTACHMENT_NAME = 'attachment-name';
export const MAX_ATTACHMENTS = 10;
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Types a patient's browser may be told; anything else is served as application/octet-stream. */
const SERVED_TYPES = new Set([
  'application/pdf',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'text/plain',
  'text/csv',
  'text/calendar',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/zip',
]);

export type AttachmentInput = { name: string; contentType: string; content: Buffer };

export function servedType(contentType: string): string {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return SERVED_TYPES.has(type) ? type : 'application/octet-stream';
}

/** A file name with no path, no control characters and at most 200 characters; `file` when nothing is left. */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f"]/g, '').trim().slice(0, 200);
  return clean && clean !== '.' && clean !== '..' ? clean : 'file';
}

/** Why a set of attachments is refused, in words for the sender; undefined when it is fine. */
export function attachmentErrors(attachments: AttachmentInput[]): string | undefined {
  if (attachments.length > MAX_ATTACHMENTS) return `At most ${MAX_ATTACHMENTS} attachments.`;
  const total = attachments.reduce((sum, a) => sum + a.content.length, 0);
  if (total > MAX_ATTACHMENT_BYTES) return 'Attachments may add up to 10 MB at most.';
  if (attachments.some((a) => !a.name.trim())) return 'Every attachment needs a file name.';
  if (attachments.some((a) => a.content.length === 0)) return 'An attachment is empty.';
  return undefined;
}

export function sealAttachments(ring: KekRing, orgId: string, messageId: string, attachments: AttachmentInput[]) {
  return attachments.map((a, position) => ({
    orgId,
    messageId,
    position,
    contentType: servedType(a.contentType),
    sizeBytes: a.content.length,
    name: seal(ring, { orgId, purpose: ATTACHMENT_NAME }, cleanFileName(a.name)),
    content: seal(ring, { orgId, purpose: ATTACHMENT_CONTENT }, a.content),
  }));
}
