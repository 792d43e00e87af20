export { listMail, readMail, readRawMail } from '../../server/delivery/dev-mailbox';
