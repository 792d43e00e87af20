// pipelinedTransaction (ADR 027): the engine's batch and group-commit transactions send BEGIN with their first
// statement. It must still be one transaction: all or nothing, one snapshot owner, the connection given back.
import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { pipelinedTransaction } from '../../db/prepared';
import { organisations } from '../../db/schema/index';
import { createTestOrganisation, testDatabase } from '../support/db';

const handle = testDatabase(2);
const db = handle.db;
afterAll(() => handle.close());

describe('pipelinedTransaction', () => {
  it('runs every statement in one transaction and commits when the callback resolves', async () => {
    const org = await createTestOrganisation(handle);
    const ids = await pipelinedTransaction(db, async (tx) => {
      const first = await tx.execute<{ txid: string }>(sql`select txid_current()::text as txid`);
      await tx.update(organisations).set({ name: 'Renamed Clinic' }).where(eq(organisations.id, org.id));
      const second = await tx.execute<{ txid: string }>(sql`select txid_current()::text as txid`);
      return [first[0]!.txid, second[0]!.txid];
    });
    expect(ids[0]).toBe(ids[1]);
    const [row] = await db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, org.id));
    expect(row!.name).toBe('Renamed Clinic');
  });

  it('rolls everything back when the callback throws, or when a statement fails, and gives the connection back', async () => {
    const org = await createTestOrganisation(handle, 'Kept Clinic');
    const rename = (name: string) => (tx: Parameters<Parameters<typeof pipelinedTransaction>[1]>[0]) =>
      tx.update(organisations).set({ name }).where(eq(organisations.id, org.id));
    await expect(
      pipelinedTransaction(db, async (tx) => {
        await rename('Lost One')(tx);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await expect(
      pipelinedTransaction(db, async (tx) => {
        await rename('Lost Two')(tx);
        await tx.execute(sql`select 1 / 0`);
      }),
    ).rejects.toThrow('select 1 / 0');
    // A pool of two: had either transaction kept its connection, these would wait for ever.
    for (let i = 0; i < 3; i++) await pipelinedTransaction(db, async (tx) => tx.execute(sql`select 1`));
    const [row] = await db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, org.id));
    expect(row!.name).toBe('Kept Clinic');
  });
});
