import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connect } from '../../db/client';
import { runMigrations } from '../../db/migrate';
import { seedDemo } from '../../db/seed';
import { spawnEntry } from '../support/processes';

const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
const name = `seed_${randomBytes(4).toString('hex')}`;
const url = inject('databaseUrlTemplate').replace('{db}', name);

afterAll(async () => {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

async function counts(sql: postgres.Sql) {
  const [row] = await sql<Record<string, number>[]>`
    select (select count(*)::int from organisations) as orgs, (select count(*)::int from patients) as patients,
           (select count(*)::int from contact_points) as contacts, (select count(*)::int from admins) as admins,
           (select count(*)::int from consent_topics) as topics,
           (select count(*)::int from authorization_texts where status = 'published') as texts,
           (select count(*)::int from audit_events) as events`;
  return row!;
}

describe('demo seed and audit:verify', () => {
  it('the seed is idempotent: a second and third run add nothing', async () => {
    await admin.unsafe(`create database "${name}"`);
    await runMigrations(url);
    const handle = connect(url, { max: 2 });
    try {
      const summary = await seedDemo(handle.db);
      expect(summary.slug).toBe('riverside');
      const first = await counts(handle.sql);
      expect(first).toMatchObject({ orgs: 1, patients: 3, contacts: 5, admins: 2, topics: 3, texts: 3 });
      const [paid] = await handle.sql<{ body: string }[]>`select t.body from authorization_texts t join consent_topics c on c.id = t.topic_id where c.remunerated`;
      expect(paid!.body).toContain('Northside Pharmacy Group pays'); // AV2 in the demo data
      await seedDemo(handle.db);
      await seedDemo(handle.db);
      expect(await counts(handle.sql)).toEqual(first);
      const unverified = await handle.sql`select 1 from contact_points where verified_at is null`;
      expect(unverified).toHaveLength(0); // organisation-supplied contact points (OT6)
    } finally {
      await handle.close();
    }
  });

  it('AU2: `npm run audit:verify` passes an intact log and exits 1 on a tampered one', async () => {
    const env = { DATABASE_URL: url, CAREPOST_DATA_DIR: '/tmp/carepost-verify-unused' };
    const ok = spawnEntry('server/audit/verify-cli.ts', [], env);
    expect(await ok.exited).toBe(0);
    expect(ok.output()).toMatch(/1 chains checked, 0 broken/);

    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`update audit_events set details = '{"source": "forged"}' where seq = 1`;
      });
    } finally {
      await sql.end();
    }
    const broken = spawnEntry('server/audit/verify-cli.ts', [], env);
    expect(await broken.exited).toBe(1);
    expect(broken.output()).toMatch(/BROKEN .*seq 1: hash/);
    expect(broken.output()).toMatch(/1 chains checked, 1 broken/);
  });
});
