// The admin console's topics and texts, compliance dashboard and audit evidence (issue 8, parts 4, 7 and 8).
export {
  createTopic,
  discardDraft,
  draftCheck,
  draftInputFrom,
  getTopic,
  listTopics,
  patientTextOf,
  retireText,
  retireTopic,
  saveAndPublish,
  saveDraft,
  textsOfTopic,
  topicInputFrom,
  updateTopic,
  type DraftField,
  type TopicField,
} from '../../server/admin/topics';
export { complianceDashboard, DASHBOARD_WEEKS, type ComplianceDashboard } from '../../server/admin/dashboard';
export {
  AUDIT_ACTOR_TYPES,
  auditCsvStream,
  auditHeadSeq,
  filterQuery,
  organisationTimeZone,
  parseAuditFilters,
  recordAuditExport,
  searchAudit,
  verifyAndRecord,
  type AuditFilterInput,
} from '../../server/audit/search';
export { ELEMENTS } from '../../server/consent/texts';
export { textSections } from '../../server/consent/overview';
export { addTextTranslation, saveTopicTranslation, topicTranslationsOf, translationsOfTopic } from '../../server/consent/translations';
export { AUTHORIZATION_WORDS } from '../../server/i18n/authorization';
export { LOCALE_NAMES, LOCALES, toLocale } from '../../server/i18n/locale';
