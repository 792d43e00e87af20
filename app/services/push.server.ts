import type { AppLoadContext } from '@remix-run/node';
import { pushSubscriptionsOf } from '../../server/delivery/push-subscriptions';
import type { PushOptInData } from '../components/push-opt-in';

export { parseSubscription, subscribePush, unsubscribePush } from '../../server/delivery/push-subscriptions';

/** The preferences page's data for <PushOptIn>: the VAPID public key and the patient's subscriptions; null when push is off. */
export async function pushOptInData(context: AppLoadContext, org: { id: string; slug: string }, patientId: string): Promise<PushOptInData> {
  if (!context.push) return null;
  const { fingerprints } = await pushSubscriptionsOf(context.db, org.id, patientId);
  return { vapidPublicKey: context.push.vapidPublicKey, fingerprints, action: `/o/${org.slug}/push` };
}
