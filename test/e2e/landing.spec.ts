import { expect, expectAxeClean, test } from './fixtures';

test.describe('organisation landing page', () => {
  test('is branded from the database and axe-clean (WCAG 2.2 AA)', async ({ page }) => {
    const response = await page.goto('/o/riverside');
    expect(response!.status()).toBe(200);
    await expect(page).toHaveTitle(/Riverside Family Clinic/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Secure messages and your choices');
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    const header = page.locator('.org-header');
    await expect(header).toHaveCSS('background-color', 'rgb(11, 110, 79)');
    await expect(page.locator('.org-header__logo')).toBeVisible();
    const logo = await page.request.get('/o/riverside/logo.svg');
    expect(logo.headers()['content-type']).toBe('image/svg+xml');
    await expectAxeClean(page);
  });

  test('CX2: scripts run under the enforced CSP, every inline script carries the nonce, none is blocked', async ({ page, pageProblems }) => {
    const response = await page.goto('/o/riverside');
    const csp = response!.headers()['content-security-policy']!;
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    // Browsers hide nonce attributes from the DOM; the property still holds it.
    const nonces = await page.locator('script').evaluateAll((els) => els.map((el) => (el as HTMLScriptElement).nonce));
    expect(nonces.length).toBeGreaterThan(0);
    for (const n of nonces) expect(n).toBe(nonce);
    expect(pageProblems).toEqual([]);
  });

  test('CX2: a script injected without the nonce is blocked', async ({ page, pageProblems }) => {
    await page.goto('/o/riverside');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const ran = await page.evaluate(async () => {
      const violation = new Promise<string>((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true }));
      const el = document.createElement('script');
      el.textContent = 'window.__injected = true';
      document.body.appendChild(el);
      const directive = await violation;
      return { injected: (window as unknown as { __injected?: boolean }).__injected === true, directive };
    });
    expect(ran.injected).toBe(false);
    expect(ran.directive).toContain('script-src');
    // The one violation this test provoked on purpose; anything else still fails the test.
    await expect.poll(() => pageProblems.length).toBe(1);
    expect(pageProblems[0]).toMatch(/Content Security Policy directive 'script-src/);
    pageProblems.length = 0;
  });

  test('is usable by keyboard: the skip link is first, visible on focus, and moves focus to the content', async ({ page }) => {
    await page.goto('/o/riverside');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to main content' });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    const outline = await skip.evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect(page.locator('main#main')).toBeFocused();
  });

  test('an unknown organisation gets a clear, accessible 404', async ({ page }) => {
    const response = await page.goto('/o/no-such-clinic');
    expect(response!.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Provider not found');
    await expectAxeClean(page);
  });

  test('the Carepost home page and an unknown path are accessible', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Carepost');
    await expectAxeClean(page);
    const response = await page.goto('/nowhere/at/all');
    expect(response!.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
    await expectAxeClean(page);
  });
});
