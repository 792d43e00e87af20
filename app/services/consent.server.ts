export { choicesOf, signableText, signedRecord, textSections, type TopicChoice } from '../../server/consent/overview';
export { checkSignatureAndChannels, consentHistory, grantAuthorization, renewAuthorization, revokeAuthorization, CONSENT_CHANNELS } from '../../server/consent/ledger';
export {
  FREQUENCIES,
  LINK_PAUSE_DAYS,
  lowerPreferences,
  patientPreferencesOf,
  savePreferences,
  topicPreferencesOf,
  type Lowering,
} from '../../server/consent/preferences';
export { openPatientLink } from '../../server/links/links';
export { evidenceRows, recordFileName, renderRecordHtml, signedBody } from '../../server/consent/record';
