// Organisation texts in the patient's language, for the consent pages (issue 9, item 3).
export { addTextTranslation, setTopicTranslation, textTranslationById, textTranslationFor, topicTranslationsOf } from '../../server/consent/translations';
