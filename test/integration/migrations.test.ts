import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrationStatus, runMigrations } from '../../db/migrate';

const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

async function emptyDatabase(): Promise<string> {
  const name = `migrate_${randomBytes(4).toString('hex')}`;
  await admin.unsafe(`create database "${name}"`);
  created.push(name);
  return inject('databaseUrlTemplate').replace('{db}', name);
}

describe('migrations', () => {
  it('run from an empty database, create the tenant core, and report up to date', async () => {
    const url = await emptyDatabase();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      expect((await migrationStatus(sql)).upToDate).toBe(false);
      await runMigrations(url);
      const tables = await sql<{ table_name: string }[]>`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['organisations', 'patients', 'contact_points', 'admins', 'sessions', 'audit_events', 'audit_heads']),
      );
      const status = await migrationStatus(sql);
      expect(status.upToDate).toBe(true);
      expect(status.applied).toBe(status.expected);
    } finally {
      await sql.end();
    }
  });

  it('are idempotent and safe when two processes apply them at once', async () => {
    const url = await emptyDatabase();
    await Promise.all([runMigrations(url), runMigrations(url)]);
    await runMigrations(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const status = await migrationStatus(sql);
      expect(status).toMatchObject({ upToDate: true, applied: status.expected });
    } finally {
      await sql.end();
    }
  });

  it('EN3 groundwork: a contact point or session cannot point at another organisation\'s patient', async () => {
    const url = await emptyDatabase();
    await runMigrations(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [a] = await sql<{ id: string }[]>`insert into organisations (slug, name) values ('org-a', 'A') returning id`;
      const [b] = await sql<{ id: string }[]>`insert into organisations (slug, name) values ('org-b', 'B') returning id`;
      const [p] = await sql<{ id: string }[]>`insert into patients (org_id, external_ref, display_name) values (${a!.id}, 'x', 'X') returning id`;
      await expect(
        sql`insert into contact_points (org_id, patient_id, kind, value, source) values (${b!.id}, ${p!.id}, 'email', 'x@example.com', 'organisation')`,
      ).rejects.toThrow(/contact_points_patient_fk/);
      await expect(
        sql`insert into sessions (id_hash, org_id, subject_type, patient_id, verification_method, verified_at, expires_at)
            values ('h', ${b!.id}, 'patient', ${p!.id}, 'code_email', now(), now() + interval '1 hour')`,
      ).rejects.toThrow(/sessions_patient_fk/);
    } finally {
      await sql.end();
    }
  });
});
