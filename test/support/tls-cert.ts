// A throwaway self-signed certificate for TLS/WSS tests, made with the openssl CLI.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCert {
  certPath: string;
  keyPath: string;
  dir: string;
}

/** Writes cert.pem and key.pem for CN=localhost (SAN IP:127.0.0.1, DNS:localhost) into a new temp dir. */
export async function createSelfSignedCert(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), 'hibiki-cert-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return { certPath, keyPath, dir };
}

export async function removeCert(cert: TestCert): Promise<void> {
  await rm(cert.dir, { recursive: true, force: true });
}
