export { deliveriesForPatient, type PatientDelivery } from '../../server/engine/history';
