// Web push in the service worker (issue 9): show the notice the engine sent, and open the portal when it is clicked.
// The payload is the PHI-free notice (EM4): { title, body, url, tag }. The service worker itself (app/sw/sw.ts) is
// built elsewhere and calls installPushHandlers(self). Type-checked with app/sw/tsconfig.json (the WebWorker lib).

export type PushNoticePayload = { title: string; body: string; url: string; tag: string };

const FALLBACK = { title: 'New secure message', body: 'Open the portal to read it.' };
const MAX_TEXT = 500;

/** Only a URL on our own origin may be opened from a notification; anything else opens the portal's start page. */
export function sameOriginUrl(url: unknown, origin: string): string {
  if (typeof url === 'string') {
    try {
      const parsed = new URL(url, origin);
      if (parsed.origin === origin && (parsed.protocol === 'https:' || parsed.protocol === 'http:')) return parsed.href;
    } catch {
      // not a URL: fall through
    }
  }
  return new URL('/', origin).href;
}

/** The notice from a push message's JSON, checked; a push without a usable payload still shows a generic notice. */
export function noticeFromPayload(data: unknown, origin: string): PushNoticePayload {
  const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const text = (value: unknown, fallback: string) => (typeof value === 'string' && value.trim() !== '' ? value.slice(0, MAX_TEXT) : fallback);
  return {
    title: text(d.title, FALLBACK.title),
    body: text(d.body, FALLBACK.body),
    url: sameOriginUrl(d.url, origin),
    tag: text(d.tag, 'carepost'),
  };
}

export function installPushHandlers(sw: ServiceWorkerGlobalScope): void {
  sw.addEventListener('push', (event: PushEvent) => {
    let data: unknown;
    try {
      data = event.data?.json();
    } catch {
      data = undefined;
    }
    const notice = noticeFromPayload(data, sw.location.origin);
    // userVisibleOnly: every push must show a notification, or the browser may revoke the subscription.
    event.waitUntil(sw.registration.showNotification(notice.title, { body: notice.body, tag: notice.tag, data: { url: notice.url } }));
  });

  sw.addEventListener('notificationclick', (event: NotificationEvent) => {
    event.notification.close();
    const url = sameOriginUrl((event.notification.data as { url?: unknown } | null)?.url, sw.location.origin);
    event.waitUntil(
      (async () => {
        const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
        const open = windows.find((client) => client.url === url);
        if (open) {
          await open.focus();
          return;
        }
        await sw.clients.openWindow(url);
      })(),
    );
  });
}
