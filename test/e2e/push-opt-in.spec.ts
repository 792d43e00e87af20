// The web push opt-in on the preferences page (issue 9). Headless Chromium reaches no real push service and this
// branch has no service worker of its own, so the browser's push API is stood in for by an init script (the
// Notification permission, a registration and its pushManager, whose subscription carries a real P-256 key and auth
// secret); everything else is real: the component, the POST to /o/<slug>/push, and the row it stores.
import { createECDH, randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { pushSubscriptions } from '../../db/schema/index';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

test('push opt-in: renders, is axe-clean, keyboard reachable, and turns notifications on and off', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'the component is the same at both sizes; the preferences page itself is scanned at both');
  const patient = await createE2ePatient();
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const subscription = {
    endpoint: `http://127.0.0.1:9/push/${randomBytes(8).toString('hex')}`,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey('base64url', 'uncompressed'), auth: randomBytes(16).toString('base64url') },
  };
  await page.addInitScript((sub) => {
    // The browser keeps its subscription outside the page's storage, across page loads and sign-out's clearing; so
    // does this stand-in: its state lives in the test (exposed functions survive navigations).
    const state = window as unknown as { fakePushGet: () => Promise<boolean>; fakePushSet: (on: boolean) => Promise<void> };
    const made = () => ({ endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => (await state.fakePushSet(false), true) });
    const pushManager = {
      getSubscription: async () => ((await state.fakePushGet()) ? made() : null),
      subscribe: async (options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }) => {
        if (!options.userVisibleOnly || options.applicationServerKey.length !== 65) throw new Error('bad options');
        await state.fakePushSet(true);
        return made();
      },
    };
    const registration = { pushManager };
    Object.defineProperty(Navigator.prototype, 'serviceWorker', {
      configurable: true,
      // The page's own worker registration (app/components/pwa.tsx) finds a container that refuses, as in private mode.
      get: () => ({
        getRegistration: async () => registration,
        ready: Promise.resolve(registration),
        controller: null,
        register: async () => {
          throw new Error('no service worker in this test');
        },
        addEventListener: () => undefined,
        removeEventListener: () => undefined,
      }),
    });
    Notification.requestPermission = async () => 'granted';
  }, subscription);
  let subscribed = false;
  let unsubscribed = 0;
  await page.exposeFunction('fakePushGet', () => subscribed);
  await page.exposeFunction('fakePushSet', (on: boolean) => {
    if (subscribed && !on) unsubscribed += 1;
    subscribed = on;
  });
  const rows = () => patient.db.select().from(pushSubscriptions).where(and(eq(pushSubscriptions.orgId, patient.orgId), eq(pushSubscriptions.patientId, patient.id)));
  try {
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/preferences');
    const region = page.getByRole('region', { name: 'Notifications on this device' });
    await expect(region.getByRole('status')).toHaveText('Notifications are off on this device.');
    await expectAxeClean(page);

    // Keyboard: the opt-in follows the preferences form's button in the tab order.
    await page.getByRole('button', { name: 'Save my choices' }).focus();
    await page.keyboard.press('Tab');
    const turnOn = region.getByRole('button', { name: 'Turn on notifications on this device' });
    await expect(turnOn).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(region.getByRole('status')).toHaveText('Notifications are on for this device.');
    await expect(region.getByRole('button', { name: 'Turn off' })).toBeFocused();
    await expect.poll(async () => (await rows()).map((r) => r.endpoint)).toEqual([subscription.endpoint]);

    await page.reload();
    await expect(region.getByRole('status')).toHaveText('Notifications are on for this device.');
    await region.getByRole('button', { name: 'Turn off' }).focus();
    await page.keyboard.press('Enter');
    await expect(region.getByRole('status')).toHaveText('Notifications are off on this device.');
    await expect(turnOn).toBeFocused();
    await expect.poll(async () => (await rows()).length).toBe(0);

    // PW2: signing out on a shared device ends this browser's subscription too.
    await turnOn.click();
    await expect(region.getByRole('status')).toHaveText('Notifications are on for this device.');
    unsubscribed = 0;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/signed-out/);
    await expect.poll(() => unsubscribed).toBe(1);
    expect(subscribed).toBe(false);
  } finally {
    await patient.remove();
  }
});

test.describe('without a service worker', () => {
  // The app registers its worker a few seconds after load; here the browser refuses it, as some do.
  test.use({ serviceWorkers: 'block' });

test('push opt-in: without a service worker the section says notifications are unavailable, and offers no button', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'the component is the same at both sizes');
  const patient = await createE2ePatient();
  try {
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/preferences');
    const region = page.getByRole('region', { name: 'Notifications on this device' });
    await expect(region.getByRole('status')).toHaveText(/not available on this page yet|cannot show notifications/);
    await expect(region.getByRole('button')).toHaveCount(0);
    await expectAxeClean(page);
  } finally {
    await patient.remove();
  }
});
});
