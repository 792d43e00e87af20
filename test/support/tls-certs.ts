// Self-signed certificates for local SMTP servers in tests, made by the openssl command line (node:crypto cannot
// make X.509 certificates, and a library for it would be a dependency for tests alone).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type TestCertificate = { key: string; cert: string };

/** An EC P-256 key and a one-day certificate for `hostname` (CN and subjectAltName). */
export async function makeCertificate(hostname: string): Promise<TestCertificate> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await run('openssl', [
      'req', '-x509',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-days', '1',
      '-subj', `/CN=${hostname}`,
      '-addext', `subjectAltName=DNS:${hostname}`,
      '-keyout', keyFile, '-out', certFile,
    ]);
    return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
