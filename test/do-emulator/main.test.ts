// The CLI as a process: flags, the JSON start line with the URL, a seed file, a required
// token, and a clean exit on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { apiClient } from './testing.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

test('main.ts serves a seed file with a required token, logs its URL as JSON and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'do-emulator-'));
  const seedPath = join(dir, 'seed.json');
  writeFileSync(seedPath, JSON.stringify({ region: 'ams3', droplets: [{ id: 5, name: 'solo' }], reservedIps: [{ ip: '198.51.100.7' }] }));
  const child = spawn(process.execPath, [MAIN, '--port', '0', '--state', seedPath, '--token', 'dop_v1_cli', '--action-delay-ms', '5'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, 'line')) as [string];
    const started = JSON.parse(first) as { msg: string; url: string; tokenRequired: boolean };
    assert.equal(started.msg, 'DigitalOcean API emulator listening');
    assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(started.tokenRequired, true);
    assert.doesNotMatch(first, /dop_v1_cli/);

    assert.equal((await apiClient(started.url, 'dop_v1_other')('GET', '/v2/account')).status, 401);
    const api = apiClient(started.url, 'dop_v1_cli');
    const ips = await api('GET', '/v2/reserved_ips');
    assert.deepEqual(ips.body.reserved_ips.map((r: { ip: string; region: { slug: string } }) => [r.ip, r.region.slug]), [['198.51.100.7', 'ams3']]);
    const { action } = (await api('POST', '/v2/reserved_ips/198.51.100.7/actions', { type: 'assign', droplet_id: 5 })).body;
    let status = 'in-progress';
    for (let i = 0; i < 50 && status === 'in-progress'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      status = (await api('GET', `/v2/actions/${action.id}`)).body.action.status;
    }
    assert.equal(status, 'completed');

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('main.ts rejects a bad flag value with a message and exit code 1', async () => {
  const child = spawn(process.execPath, [MAIN, '--port', 'eighty'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /--port must be a non-negative integer, got \\"eighty\\"/);
});

test('main.ts --help prints the usage and exits 0 without listening', async () => {
  const child = spawn(process.execPath, [MAIN, '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: node dist\/test\/do-emulator\/main\.js \[flags\]\n/);
  assert.match(stdout, /--action-delay-ms N {4}how long an action stays in-progress \(default 300\)/);
  assert.doesNotMatch(stdout, /listening/);
});
