import axe from 'axe-core';
import { expect, test as base, type Page } from '@playwright/test';

/** Fails the test on any CSP violation or uncaught page error: the enforced CSP (CX2) must not break the app. */
export const test = base.extend<{ pageProblems: string[] }>({
  pageProblems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
      });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      await use(problems);
      expect(problems, 'CSP violations or page errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

const WCAG_22_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * Runs axe-core's WCAG 2.2 AA rules on the page as it is now and fails on any violation.
 *
 * axe-core is injected once per document (through DevTools, so the page's CSP does not apply) and run in the page with
 * only violations collected. @axe-core/playwright did the same work but opened a blank page for every scan to merge
 * per-frame results, which cost 1.5-3 s a scan on two shared cores against 0.2-0.6 s here (ADR 020). Carepost's pages
 * have no frames, so one document is the whole page; a page that gains one fails here until this scans frames too.
 */
export async function expectAxeClean(page: Page) {
  expect(page.frames().map((frame) => frame.url()).slice(1), 'frames this scan would not see').toEqual([]);
  const injected = await page.evaluate(() => typeof (window as { axe?: unknown }).axe === 'object');
  if (!injected) await page.evaluate(axe.source);
  const violations = await page.evaluate(async (tags) => {
    const { axe: inPage } = window as unknown as { axe: typeof axe };
    const results = await inPage.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  }, WCAG_22_AA);
  expect(violations, 'axe WCAG 2.2 AA violations').toEqual([]);
}
