// Plain words for campaigns on the admin pages. Reason codes come from the engine (server/engine/gate.ts); a code
// without words here is shown as itself, readable, rather than hidden.
export const CAMPAIGN_STATUS_LABELS: Record<string, string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  running: 'Running',
  paused: 'Paused',
  cancelled: 'Cancelled',
  completed: 'Completed',
};

export const CAMPAIGN_KIND_LABELS: Record<string, string> = { renewal: 'Renewal request', expiry_reminder: 'Expiry reminder' };

export const CAMPAIGN_CHANNEL_LABELS: Record<string, string> = { email: 'Email', sms: 'Text message', portal: 'Portal message' };

const REASON_LABELS: Record<string, string> = {
  authorization_revoked: 'Authorisation revoked',
  authorization_expired: 'Authorisation expired',
  no_authorization: 'No authorisation',
  channel_not_authorized: 'Channel not authorised',
  channel_opted_out: 'Channel opted out',
  suppressed: 'Address suppressed',
  no_contact_point: 'No contact point',
  contact_unverified: 'Contact point unverified',
  marketing_stopped: 'Patient stopped all marketing',
  marketing_paused: 'Patient paused marketing',
  topic_paused: 'Patient paused the topic',
  topic_retired: 'Topic retired',
  authorization_text_defective: 'Authorisation text defective',
  message_withdrawn: 'Withdrawn (campaign cancelled)',
  send_by_passed: 'Too late to send',
  message_expired: 'Message expired',
};

export function reasonLabel(code: string): string {
  return REASON_LABELS[code] ?? code.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

export function percent(done: number, total: number): number {
  return total === 0 ? 0 : Math.floor((done / total) * 100);
}
