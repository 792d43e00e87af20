import { expect, expectAxeClean, test } from './fixtures';

// The axe check every page test relies on must be able to fail: a page with known WCAG 2.2 AA violations, and the
// same check passing once they are fixed in place (the check runs again in the same document).
test('the axe check finds violations, names them, and passes once they are fixed', async ({ page }) => {
  await page.setContent('<!doctype html><html lang="en"><title>t</title><body><main><button id="b"></button><img id="i" src="data:,"></main></body></html>');
  const failure = await expectAxeClean(page).then(
    () => null,
    (error: Error) => error.message,
  );
  expect(failure).toContain('button-name');
  expect(failure).toContain('image-alt');
  await page.evaluate(() => {
    document.getElementById('b')!.textContent = 'Save';
    document.getElementById('i')!.setAttribute('alt', '');
  });
  await expectAxeClean(page);
});

test('the axe check refuses a page with a frame it would not scan', async ({ page }) => {
  await page.setContent('<!doctype html><html lang="en"><title>t</title><body><main><h1>t</h1><iframe title="x" src="about:blank"></iframe></main></body></html>');
  await expect(expectAxeClean(page)).rejects.toThrow(/frames this scan would not see/);
});
