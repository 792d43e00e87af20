import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connect, type DbHandle } from '../../db/client';
import { organisations } from '../../db/schema/index';

export function testDatabase(max = 5): DbHandle {
  return connect(inject('databaseUrl'), { max, applicationName: 'carepost-test' });
}

/** Every test makes its own organisation, so tests never see each other's rows. */
export async function createTestOrganisation(handle: DbHandle, name = 'Test Clinic') {
  const slug = `test-${randomBytes(5).toString('hex')}`;
  const [org] = await handle.db.insert(organisations).values({ slug, name, brandColor: '#336699' }).returning();
  return org!;
}
