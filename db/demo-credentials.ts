// The demo admins' sign-in, for `npm start` and the tests only (db/seed.ts writes it; server/dev.ts prints it). Never
// used outside development and test: the seed refuses to run in production.
//
// The authenticator secret is fixed so a person can type it into an authenticator app once and keep using it
// across restarts; `DEMO_ADMIN_TOTP_SECRET` is base32 (32 characters, 160 bits) as apps expect.
export const DEMO_ADMIN_PASSWORD = 'riverside-demo-admin';
export const DEMO_ADMIN_TOTP_SECRET = 'CAREPOSTDEMOADMINTOTPSECRET23456';
