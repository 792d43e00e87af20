import type { Database } from '../../db/client';
import type { Config } from '../config';
import type { CodeTransports } from '../identity/code-delivery';
import type { CookieSettings } from '../identity/cookies';
import type { LinkKeyring } from '../links/tokens';
import type { Logger } from '../logger';
import type { KekRing } from '../messages/vault';

/** What every loader and action receives as `context`. Services come from here, never from module state. */
export type CarepostLoadContext = {
  cspNonce: string;
  /** The client address as Express sees it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  clientIp: string;
  db: Database;
  config: Pick<Config, 'mode' | 'isProduction' | 'publicUrl' | 'dataDir'>;
  logger: Logger;
  identity: { codeSecret: Buffer; cookies: CookieSettings; webauthn: { rpId: string; rpName: string; origins: string[] } };
  transports: CodeTransports;
  /** Signed links (CX4): the key that signs and every key that still verifies. */
  links: { keyring: LinkKeyring };
  /** The vault's key ring: opens sealed messages, attachments and replies (TR1). */
  vault: KekRing;
  /** Web push: the VAPID public key browsers subscribe with (public by design); undefined when push is off (ADR 015). */
  push: { vapidPublicKey: string } | undefined;
  /**
   * Resolves once the response's buffered output has drained (or the client has gone). Remix's adapter writes a
   * streamed body without waiting for the socket, so a streaming resource route (the audit CSV export) awaits this
   * before producing more, and a slow client holds the server to one batch in memory.
   */
  responseDrained: () => Promise<void>;
};

declare module '@remix-run/node' {
  interface AppLoadContext extends CarepostLoadContext {}
}
