// An admin of a role with a live session, for HTTP tests of admin pages; the sign-in flows are tested on their own.
import type { Database } from '../../db/client';
import { admins } from '../../db/schema/index';
import { createAdminSession } from '../../server/admin/sessions';
import type { AdminRole } from '../../server/admin/roles';

export async function createTestAdmin(db: Database, orgId: string, role: AdminRole, now = new Date()) {
  const [admin] = await db
    .insert(admins)
    .values({ orgId, role, email: `${role}-${Math.random().toString(36).slice(2, 8)}@admin.example`, name: `Test ${role}` })
    .returning({ id: admins.id, email: admins.email });
  const { token } = await db.transaction((tx) => createAdminSession(tx, { orgId, adminId: admin!.id, method: 'password_totp', now }));
  return { adminId: admin!.id, email: admin!.email, cookie: `carepost_admin=${token}` };
}
