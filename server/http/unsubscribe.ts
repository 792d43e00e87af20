// RFC 8058 one-click unsubscribe (EM2, RV2). The POST needs no cookie, no Origin and no further step: the signed link
// is the whole authority, and all it can do is switch one topic off on one channel. It is mounted ahead of the
// cross-site check because mailbox providers post from their own servers. GET and HEAD go to the Remix page, which
// shows a button and changes nothing.
import express, { type Request, type Response } from 'express';
import type { Database } from '../../db/client';
import { getOrganisationBranding } from '../orgs/organisations';
import { lowerPreferences } from '../consent/preferences';
import { openPatientLink } from '../links/links';
import type { LinkKeyring } from '../links/tokens';
import type { ConsentChannel } from '../../db/schema/index';
import type { Logger } from '../logger';

export const UNSUBSCRIBE_PATH = '/o/:slug/u/:token';

export function oneClickUnsubscribe(options: { db: Database; keyring: LinkKeyring; logger: Logger }) {
  const router = express.Router();
  // The body is `List-Unsubscribe=One-Click` (urlencoded or multipart); nothing in it is needed, so it is only drained.
  router.post(UNSUBSCRIBE_PATH, express.raw({ type: () => true, limit: '16kb' }), async (req: Request, res: Response) => {
    const now = new Date();
    const fromPage = req.get('sec-fetch-mode') === 'navigate';
    const refuse = (reason: string) => {
      options.logger.info({ reason }, 'unsubscribe link refused');
      // A person pressing the page's button goes back to the page, which says the same in their language (issue 9).
      if (fromPage) return void res.redirect(303, `/o/${encodeURIComponent(String(req.params.slug))}/u/${encodeURIComponent(String(req.params.token))}`);
      res.status(404).type('text/plain').send('This unsubscribe link does not work. Sign in to the portal to change your choices.');
    };
    try {
      const org = await getOrganisationBranding(options.db, String(req.params.slug));
      if (!org) return refuse('unknown_organisation');
      const token = String(req.params.token);
      const opened = await openPatientLink(options.db, options.keyring, { purpose: 'unsubscribe', orgId: org.id, token, now });
      if (!opened.ok) return refuse(opened.reason);
      const { topicId, channel } = opened.claims.context;
      if (!topicId || !channel) return refuse('missing_context');
      const result = await lowerPreferences(options.db, {
        orgId: org.id,
        patientId: opened.claims.patientId,
        change: { kind: 'channel_off', topicId, channel: channel as ConsentChannel },
        via: 'unsubscribe',
        now,
      });
      if (result.status === 'not_found' || result.status === 'invalid') return refuse(`lower_${result.status}`);
      if (fromPage) {
        res.redirect(303, `/o/${org.slug}/u/${token}`);
        return;
      }
      res.status(200).type('text/plain').send('You are unsubscribed.');
    } catch (error) {
      options.logger.error({ err: error }, 'unsubscribe failed');
      res.status(500).type('text/plain').send('Something went wrong. Please try again.');
    }
  });
  return router;
}
