// An admin of the demo organisation with a live session in the e2e server's database, its cookie put in the browser.
// Pages other than sign-in are tested this way; the sign-in flows themselves go through the real forms.
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Page } from '@playwright/test';
import { connect } from '../../db/client';
import { admins, organisations } from '../../db/schema/index';
import { createAdminSession } from '../../server/admin/sessions';
import type { AdminRole } from '../../server/admin/roles';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';

export async function signInAdminWithCookie(page: Page, role: AdminRole, slug = 'riverside') {
  const url = runningEmbeddedUrl(e2e.dataDir);
  if (!url) throw new Error(`the e2e server's database is not running (data in ${e2e.dataDir})`);
  const handle = connect(url, { max: 1 });
  try {
    const [org] = await handle.db.select().from(organisations).where(eq(organisations.slug, slug));
    const tag = randomBytes(4).toString('hex');
    const [admin] = await handle.db
      .insert(admins)
      .values({ orgId: org!.id, role, email: `e2e-${role}-${tag}@admin.example`, name: `E2E ${role} ${tag}` })
      .returning({ id: admins.id, email: admins.email, name: admins.name });
    const { token } = await handle.db.transaction((tx) => createAdminSession(tx, { orgId: org!.id, adminId: admin!.id, method: 'password_totp', now: new Date() }));
    await page.context().addCookies([{ name: 'carepost_admin', value: token, url: e2e.baseURL, httpOnly: true, sameSite: 'Lax' }]);
    return { orgId: org!.id, adminId: admin!.id, email: admin!.email, name: admin!.name };
  } finally {
    await handle.close();
  }
}
