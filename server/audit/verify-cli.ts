// `npm run audit:verify`: checks every organisation's audit chain (AU2). Exits 1 when any chain is broken.
import { connect } from '../../db/client';
import { loadConfigOrExit } from '../config';
import { withDatabase } from '../runtime/database';
import { verifyAllAuditChains } from './chain';

const config = loadConfigOrExit();
const exitCode = await withDatabase(config, async (databaseUrl) => {
  const handle = connect(databaseUrl, { max: 2, applicationName: 'carepost-audit-verify' });
  try {
    const reports = await verifyAllAuditChains(handle.db);
    for (const report of reports) {
      const first = report.problems.slice(0, 5).map((p) => `seq ${p.seq}: ${p.problem}`).join('; ');
      console.log(`${report.ok ? 'ok    ' : 'BROKEN'} org ${report.orgId}: ${report.events} events${first ? ` (${first})` : ''}`);
    }
    const broken = reports.filter((r) => !r.ok).length;
    console.log(`${reports.length} chains checked, ${broken} broken`);
    return broken === 0 ? 0 : 1;
  } finally {
    await handle.close();
  }
});
process.exit(exitCode);
