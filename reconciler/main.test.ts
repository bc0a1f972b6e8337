// The CLI contract and the start-up checks, against the DigitalOcean emulator on loopback.
// Runs that need Kubernetes are in main.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../test/do-emulator/server.ts';
import { createDoClient } from '../shared/digitalocean/client.ts';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { ReservedIpPort } from '../shared/digitalocean/port.ts';
import { StartupError, checkDigitalOcean } from './main.ts';
import { createMemoryPort } from '../test/support/reserved-ip-port.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TOKEN = 'emulator-token-0123';

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** a loopback port with nothing listening */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const fakePort = (getAccount: ReservedIpPort['getAccount']): ReservedIpPort => {
  const port = createMemoryPort();
  port.impl.getAccount = getAccount;
  return port;
};

test('--help prints the usage and exits 0', async () => {
  const r = await run(['--help'], {});
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: node dist\/reconciler\/main\.js \[flags\]/);
  assert.equal(r.stderr, '');
});

test('a config error exits 2 with one clear line and no stack', async () => {
  const r = await run(['--namespaces', 'Web'], { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/nonexistent' });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'floatip-reconciler: --namespaces: "Web" is not a valid namespace name (lower-case letters, digits and "-", e.g. "default,web")\nRun with --help for the flags.\n');
});

test('a missing token exits 2 before any network call', async () => {
  const r = await run([], { KUBECONFIG: '/nonexistent' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^floatip-reconciler: DIGITALOCEAN_TOKEN is not set/);
});

test('a token DigitalOcean rejects: fatal "token invalid", exit 1, token not logged', async () => {
  const emulator = await startEmulator({ token: TOKEN });
  try {
    const r = await run(['--log-level', 'info'], { DIGITALOCEAN_TOKEN: 'wrong-token-456', DIGITALOCEAN_API_URL: emulator.url, KUBECONFIG: '/nonexistent' });
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const fatal = lines.find((l) => l['level'] === 'fatal');
    assert.equal(fatal?.['msg'], `DigitalOcean token invalid: ${emulator.url} answered 401 to GET /v2/account; check DIGITALOCEAN_TOKEN`);
    assert.equal(r.stdout.includes('wrong-token-456'), false);
  } finally {
    await emulator.close();
  }
});

test('checkDigitalOcean: accepted token returns the account', async () => {
  const emulator = await startEmulator({ token: TOKEN });
  try {
    const port = createDoClient({ token: TOKEN, baseUrl: emulator.url });
    const account = await checkDigitalOcean(port, emulator.url);
    assert.equal(account.status, 'active');
  } finally {
    await emulator.close();
  }
});

test('checkDigitalOcean: unreachable API URL', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const port = createDoClient({ token: TOKEN, baseUrl: url, retry: { maxAttempts: 1 } });
  await assert.rejects(checkDigitalOcean(port, url), (err: unknown) => {
    assert.ok(err instanceof StartupError);
    assert.ok(err.message.startsWith(`DigitalOcean API unreachable at ${url}: `), err.message);
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
});

test('checkDigitalOcean: 403 and other failures keep DigitalOcean\'s message', async () => {
  await assert.rejects(
    checkDigitalOcean(fakePort(() => Promise.reject(new DoApiError('Terminal', 'needs account:read scope', { status: 403 }))), 'https://api.digitalocean.com'),
    { name: 'StartupError', message: 'DigitalOcean token not allowed to read the account (403): needs account:read scope' },
  );
  await assert.rejects(
    checkDigitalOcean(fakePort(() => Promise.reject(new DoApiError('Transient', 'GET /v2/account failed: HTTP 503', { status: 503 }))), 'https://api.digitalocean.com'),
    { name: 'StartupError', message: 'DigitalOcean account check failed: GET /v2/account failed: HTTP 503' },
  );
});
