// The service worker's push handlers (app/sw/push.ts) with a stand-in for the worker's global scope: a push shows the
// notice; a click opens only a same-origin URL. app/sw is type-checked with its own WebWorker tsconfig, so it is
// loaded here by a path the main program does not follow.
import { describe, expect, it } from 'vitest';

type Listener = (event: unknown) => void;
type SwModule = {
  installPushHandlers: (sw: unknown) => void;
  sameOriginUrl: (url: unknown, origin: string) => string;
};
const load = () => import(/* @vite-ignore */ ['..', '..', 'app', 'sw', 'push.ts'].join('/')) as Promise<SwModule>;
const ORIGIN = 'https://portal.example.com';

function fakeScope() {
  const listeners = new Map<string, Listener>();
  const shown: { title: string; options: { body: string; tag: string; data: { url: string } } }[] = [];
  const opened: string[] = [];
  const focused: string[] = [];
  let windows: { url: string }[] = [];
  const scope = {
    location: { origin: ORIGIN },
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
    registration: { showNotification: async (title: string, options: never) => void shown.push({ title, options }) },
    clients: {
      matchAll: async () => windows.map((w) => ({ ...w, focus: async () => void focused.push(w.url) })),
      openWindow: async (url: string) => void opened.push(url),
    },
  };
  const dispatch = async (type: string, event: Record<string, unknown>) => {
    let pending: Promise<unknown> = Promise.resolve();
    listeners.get(type)!({ ...event, waitUntil: (p: Promise<unknown>) => (pending = p) });
    await pending;
  };
  return { scope, dispatch, shown, opened, focused, setWindows: (w: { url: string }[]) => (windows = w) };
}

describe('service worker push handlers', () => {
  it('shows the notice from the payload, with its tag and URL', async () => {
    const { installPushHandlers } = await load();
    const sw = fakeScope();
    installPushHandlers(sw.scope);
    const url = `${ORIGIN}/o/clinic/m/token`;
    await sw.dispatch('push', { data: { json: () => ({ title: 'Secure message from Clinic', body: 'Clinic has sent you a secure message.', url, tag: 'carepost-clinic' }) } });
    expect(sw.shown).toEqual([{ title: 'Secure message from Clinic', options: { body: 'Clinic has sent you a secure message.', tag: 'carepost-clinic', data: { url } } }]);
  });

  it('a push without a readable payload still shows a notification (userVisibleOnly)', async () => {
    const { installPushHandlers } = await load();
    const sw = fakeScope();
    installPushHandlers(sw.scope);
    await sw.dispatch('push', { data: { json: () => JSON.parse('not json') } });
    expect(sw.shown).toHaveLength(1);
    expect(sw.shown[0]!.options.data.url).toBe(`${ORIGIN}/`);
  });

  it('a click focuses the window already on that URL, or opens it; another origin never opens', async () => {
    const { installPushHandlers, sameOriginUrl } = await load();
    const sw = fakeScope();
    installPushHandlers(sw.scope);
    const url = `${ORIGIN}/o/clinic/messages`;
    const click = (target: string) => sw.dispatch('notificationclick', { notification: { data: { url: target }, close: () => undefined } });
    await click(url);
    expect(sw.opened).toEqual([url]);
    sw.setWindows([{ url }]);
    await click(url);
    expect(sw.focused).toEqual([url]);
    await click('https://evil.example/phish');
    expect(sw.opened.at(-1)).toBe(`${ORIGIN}/`);
    expect(sameOriginUrl('javascript:alert(1)', ORIGIN)).toBe(`${ORIGIN}/`);
    expect(sameOriginUrl('/o/clinic/messages', ORIGIN)).toBe(url);
  });
});
