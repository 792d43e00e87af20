export { formatFingerprint, getPatientPgpKey, PGP_KEY_MAX_BYTES, removePatientPgpKey, savePatientPgpKey } from '../../server/delivery/pgp';
