// Every route's server imports, through one module (ADR 022). The browser build replaces each *.server module with an
// empty stand-in, and esbuild gave every stand-in shared by several routes a chunk of its own: five or six 100-byte
// scripts per patient page, each a request before the first paint. Through this one module there is one stand-in.
// The services stay split by subject below; routes import from here.
export * from './admin-evidence.server';
export * from './admin.server';
export * from './campaigns.server';
export * from './code-confirmation.server';
export * from './consent.server';
export * from './deliveries.server';
export * from './dev-mailbox.server';
export * from './dev-sms.server';
export * from './i18n-consent.server';
export * from './i18n.server';
export * from './identity.server';
export * from './messages.server';
export * from './organisations.server';
export * from './pgp.server';
export * from './push.server';
export * from './campaign-chart.server';
