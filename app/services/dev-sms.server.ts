export { listDevSms } from '../../server/delivery/sms';
