// The CLI contract, as a user (or an outside check) runs it: a real process serving TLS
// from files, picking up a replaced certificate, and stopping cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLoopbackTls } from './tls/certs.ts';
import type { LoopbackTls } from './tls/certs.ts';
import { httpsRequest, postJson } from './fixtures/https-client.ts';
import { loadFixture } from './fixtures/reviews.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function writePair(dir: string, tls: LoopbackTls): void {
  // Write aside, then rename: the watcher never sees a half-written file.
  writeFileSync(join(dir, 'tls.key.tmp'), tls.keyPem);
  writeFileSync(join(dir, 'tls.crt.tmp'), tls.certPem);
  renameSync(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.tmp'), join(dir, 'tls.crt'));
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('node webhook/main.ts --port --tls-cert --tls-key serves, reloads the cert, stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floatip-webhook-'));
  const first = generateLoopbackTls();
  writePair(dir, first);
  const child = spawn(
    process.execPath,
    [MAIN, '--port', '0', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--tls-poll-interval', '500ms', '--shutdown-delay', '0s'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const port = await until('the listening log line', async () => {
      const line = stdout.split('\n').find((l) => l.includes('"msg":"webhook listening"'));
      return line ? (JSON.parse(line) as { port: number }).port : undefined;
    });
    const url = `https://127.0.0.1:${port}`;

    const answer = await postJson(`${url}/validate`, first.caPem, loadFixture('deployment-create-bad'));
    assert.equal(answer.status, 200);
    assert.equal(
      (JSON.parse(answer.body) as { response: { status: { message: string } } }).response.status.message,
      'Deployment default/traefik: annotation k8s.haim.dev/floating-ip: "104.248.100" is not an IPv4 or IPv6 address (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)',
    );

    const second = generateLoopbackTls();
    writePair(dir, second);
    await until('the new certificate to be served', async () => {
      const r = await httpsRequest(`${url}/healthz`, { ca: second.caPem });
      return r.status === 200 ? true : undefined;
    });
    await assert.rejects(httpsRequest(`${url}/healthz`, { ca: first.caPem }));

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stdout, /"msg":"serving certificate loaded"/);
    assert.match(stdout, /"msg":"stopped"/);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a configuration error exits 2 with the reason on stderr', () => {
  const r = spawnSync(process.execPath, [MAIN, '--port', '8443'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'floatip-webhook: no TLS configured: pass --tls-cert FILE --tls-key FILE, or --self-signed-tls (see --help)\n');
});

test('an unreadable certificate exits 1 naming the file', () => {
  const r = spawnSync(process.execPath, [MAIN, '--port', '0', '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/nonexistent/tls.key'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^floatip-webhook: cannot read TLS certificate \/nonexistent\/tls\.crt: ENOENT/);
});
