import type { Database } from '../../db/client';
import type { Config } from '../config';
import type { Logger } from '../logger';

/** What every loader and action receives as `context`. Services come from here, never from module state. */
export type CarepostLoadContext = {
  cspNonce: string;
  db: Database;
  config: Pick<Config, 'mode' | 'isProduction' | 'publicUrl' | 'dataDir'>;
  logger: Logger;
};

declare module '@remix-run/node' {
  interface AppLoadContext extends CarepostLoadContext {}
}
