// The app's shared browser code, imported for its place in the build only (ADR 025). esbuild cuts shared chunks by
// the set of entries (entry.client, root, each route) that reach a module, so components used by different routes
// became one small chunk each: 16 scripts before the sign-in page could hydrate, and on a phone over HTTP/1.1 (six
// connections) each script is one more request in the queue. entry.client, the root and every route with a component
// import this module, so every module below is reached by the same entries as React and ends up in React's chunk:
// one shared chunk instead of a dozen. Named imports stay where they are; a module added here is in every page's
// script (the budget is 120 KB gzip, issue 9), so admin-only components are not listed.
import '../i18n';
import '../nonce';
import '../components/code-confirmation';
import '../components/consent';
import '../components/error-summary';
import '../components/field';
import '../components/pager';
import '../components/passkey-client';
import '../components/passkey-sign-in';
import '../components/push-opt-in';
import '../components/pwa';
import '../components/session-timeout';
import '../components/table-scroll';
import '../components/textarea-field';
import '../utils/code-errors';
import '../utils/consent-words';
import '../utils/delivery-words';
import '../utils/message-words';
// The browser build replaces each server module with an empty stand-in per import path (Remix's empty-module plugin
// keys them by the specifier as written), so this file sits one folder down and writes the path as the routes do.
import '../services/all.server';
import '@remix-run/node';
