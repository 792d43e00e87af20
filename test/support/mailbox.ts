import { listMail, readMail } from '../../server/delivery/dev-mailbox';

/** The ids of the mail already in the box, so a later wait only accepts what arrives after. */
export async function mailSnapshot(dataDir: string): Promise<Set<string>> {
  return new Set((await listMail(dataDir, 1000)).map((m) => m.id));
}

/** Reads a sign-in code from the mail the real SMTP catcher received: no backdoor. */
export async function waitForCode(dataDir: string, to: string, options: { ignore?: Set<string>; timeoutMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    for (const summary of await listMail(dataDir)) {
      if (!summary.to.includes(to) || options.ignore?.has(summary.id)) continue;
      const mail = await readMail(dataDir, summary.id);
      // The patient's language decides the mail's (issue 9): the demo's Maria Garcia reads Spanish.
      const match = /(?:Your code is|Su código es) (\d{6})/.exec(mail?.text ?? '');
      if (match) return match[1]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no code mail for ${to} within ${options.timeoutMs ?? 10_000} ms`);
}
