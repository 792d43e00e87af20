import { afterAll, describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditChain } from '../../server/audit/chain';
import { canonicalJson } from '../../server/audit/canonical';
import { createTestOrganisation, testDatabase } from '../support/db';

const handle = testDatabase();
afterAll(() => handle.close());

async function orgWithEvents(count: number) {
  const org = await createTestOrganisation(handle);
  for (let i = 0; i < count; i++) {
    await handle.db.transaction((tx) =>
      appendAudit(tx, org.id, { actorType: 'system', action: 'test.event', subjectType: 'thing', subjectId: `t${i}`, details: { n: i, reason: 'unit' } }),
    );
  }
  return org;
}

/** Plays an attacker with database superuser rights, who can get round the append-only trigger. */
async function tamper(statement: (sql: typeof handle.sql) => Promise<unknown>) {
  await handle.sql.begin(async (sql) => {
    await sql`set local session_replication_role = replica`;
    await statement(sql as unknown as typeof handle.sql);
  });
}

describe('AU2: hash-chained audit log', () => {
  it('AU2: an untouched chain verifies, and chains are per organisation', async () => {
    const a = await orgWithEvents(5);
    const b = await orgWithEvents(3);
    const reportA = await verifyAuditChain(handle.db, a.id);
    const reportB = await verifyAuditChain(handle.db, b.id);
    expect(reportA).toMatchObject({ ok: true, events: 5, problems: [] });
    expect(reportB).toMatchObject({ ok: true, events: 3, problems: [] });
  });

  it('AU2: the verifier finds an edited row', async () => {
    const org = await orgWithEvents(4);
    await tamper((sql) => sql`update audit_events set details = '{"n": 99, "reason": "unit"}' where org_id = ${org.id} and seq = 2`);
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ seq: 2, problem: 'hash' });
  });

  it('AU2: the verifier finds an edited row whose hash was recomputed, by the next link', async () => {
    const org = await orgWithEvents(4);
    await tamper((sql) => sql`update audit_events set action = 'test.forged', hash = ${'f'.repeat(64)} where org_id = ${org.id} and seq = 3`);
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.seq)).toEqual(expect.arrayContaining([3, 4]));
  });

  it('AU2: the verifier finds a deleted row in the middle', async () => {
    const org = await orgWithEvents(5);
    await tamper((sql) => sql`delete from audit_events where org_id = ${org.id} and seq = 3`);
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ seq: 4, problem: 'gap' });
    expect(report.problems).toContainEqual({ seq: 4, problem: 'prev_hash' });
  });

  it('AU2: the verifier finds rows cut off the end', async () => {
    const org = await orgWithEvents(5);
    await tamper((sql) => sql`delete from audit_events where org_id = ${org.id} and seq >= 4`);
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ seq: 5, problem: 'missing_tail' });
  });

  it('AU2: the verifier finds reordered rows', async () => {
    const org = await orgWithEvents(5);
    // Swap the positions of events 2 and 4, keeping each row's own hashes.
    await tamper(async (sql) => {
      await sql`update audit_events set seq = 1000002 where org_id = ${org.id} and seq = 2`;
      await sql`update audit_events set seq = 2 where org_id = ${org.id} and seq = 4`;
      await sql`update audit_events set seq = 4 where org_id = ${org.id} and seq = 1000002`;
    });
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.seq)).toEqual(expect.arrayContaining([2, 4]));
  });

  it('AU2: the database refuses UPDATE, DELETE and TRUNCATE on the audit log', async () => {
    const org = await orgWithEvents(2);
    await expect(handle.sql`update audit_events set action = 'x' where org_id = ${org.id}`).rejects.toThrow(/append-only/);
    await expect(handle.sql`delete from audit_events where org_id = ${org.id}`).rejects.toThrow(/append-only/);
    await expect(handle.sql`truncate audit_events`).rejects.toThrow(/append-only/);
    expect((await verifyAuditChain(handle.db, org.id)).ok).toBe(true);
  });

  it('AU2: concurrent appends for one organisation still form one unbroken chain', async () => {
    const org = await createTestOrganisation(handle);
    const parallel = testDatabase(10);
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          parallel.db.transaction((tx) => appendAudit(tx, org.id, { actorType: 'system', action: 'test.concurrent', details: { i } })),
        ),
      );
    } finally {
      await parallel.close();
    }
    const report = await verifyAuditChain(handle.db, org.id);
    expect(report).toMatchObject({ ok: true, events: 40 });
  });

  it('AU2: an event rolled back with its transaction leaves no trace and no gap', async () => {
    const org = await orgWithEvents(2);
    await expect(
      handle.db.transaction(async (tx) => {
        await appendAudit(tx, org.id, { actorType: 'system', action: 'test.rolled_back' });
        throw new Error('business change failed');
      }),
    ).rejects.toThrow('business change failed');
    await handle.db.transaction((tx) => appendAudit(tx, org.id, { actorType: 'system', action: 'test.after' }));
    expect(await verifyAuditChain(handle.db, org.id)).toMatchObject({ ok: true, events: 3 });
  });

  it('AU2: timestamps are stored in UTC with the hashed precision', async () => {
    const org = await orgWithEvents(1);
    const [row] = await handle.sql<{ occurred: string }[]>`
      select to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as occurred from audit_events where org_id = ${org.id}`;
    expect(Math.abs(Date.parse(row!.occurred) - Date.now())).toBeLessThan(60_000);
  });

  it('AU2: details that look like PHI or secrets are refused', async () => {
    const org = await createTestOrganisation(handle);
    for (const key of ['code', 'email', 'password', 'body', 'token']) {
      await expect(
        handle.db.transaction((tx) => appendAudit(tx, org.id, { actorType: 'system', action: 'test.leak', details: { [key]: 'x' } })),
      ).rejects.toThrow(/PHI or a secret/);
    }
    expect((await verifyAuditChain(handle.db, org.id)).events).toBe(0);
  });

  it('canonical JSON ignores key order and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
  });
});
