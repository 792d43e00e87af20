// Plain words for the secure inbox and its access history.

const METHOD_WORDS: Record<string, string> = {
  code_email: 'a code sent by email',
  code_sms: 'a code sent by text message',
  code_dob: 'a code and your date of birth',
  passkey: 'a passkey',
};

/** How the session that opened a message was verified, completing "Verified with ...". */
export function verificationWords(method: string): string {
  return METHOD_WORDS[method] ?? 'a way we no longer use';
}

export function fileSizeWords(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const TYPE_WORDS: Record<string, string> = {
  'application/pdf': 'PDF',
  'image/png': 'PNG image',
  'image/jpeg': 'JPEG image',
  'image/gif': 'GIF image',
  'image/webp': 'WebP image',
  'text/plain': 'text file',
  'text/csv': 'spreadsheet (CSV)',
  'text/calendar': 'calendar entry',
  'application/msword': 'Word document',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word document',
  'application/vnd.ms-excel': 'Excel spreadsheet',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel spreadsheet',
  'application/zip': 'ZIP archive',
};

export function fileTypeWords(contentType: string): string {
  return TYPE_WORDS[contentType] ?? 'file';
}

export const STATE_WORDS = {
  expired: 'Expired: contact the sender',
  withdrawn: 'Withdrawn by the sender',
} as const;
