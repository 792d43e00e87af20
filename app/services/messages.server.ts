export {
  accessHistory,
  listInbox,
  messageIdForDelivery,
  MAX_REPLY_LENGTH,
  openAttachment,
  openMessage,
  replyToMessage,
  REPLY_LIMIT,
  sessionRef,
  subjectsOf,
  type AccessRow,
} from '../../server/messages/inbox';
export { requireReader } from '../../server/messages/pickup';
