import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLoopbackTls } from './certs.ts';
import { readTlsFiles, watchTlsFiles } from './files.ts';
import type { TlsMaterial } from './files.ts';

test('readTlsFiles names the file that is missing, and refuses a cert with a foreign key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floatip-tls-'));
  try {
    const a = generateLoopbackTls();
    const b = generateLoopbackTls();
    writeFileSync(join(dir, 'tls.crt'), a.certPem);
    writeFileSync(join(dir, 'tls.key'), a.keyPem);
    assert.deepEqual(readTlsFiles(join(dir, 'tls.crt'), join(dir, 'tls.key')), { cert: a.certPem, key: a.keyPem });
    assert.throws(() => readTlsFiles(join(dir, 'nope.crt'), join(dir, 'tls.key')), {
      message: `cannot read TLS certificate ${join(dir, 'nope.crt')}: ENOENT: no such file or directory, open '${join(dir, 'nope.crt')}'`,
    });
    writeFileSync(join(dir, 'tls.key'), b.keyPem);
    assert.throws(() => readTlsFiles(join(dir, 'tls.crt'), join(dir, 'tls.key')), /do not form a usable pair/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the watcher reports a new valid pair once, and a mismatched pair only as an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floatip-tls-'));
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const a = generateLoopbackTls();
  const b = generateLoopbackTls();
  writeFileSync(certPath, a.certPem);
  writeFileSync(keyPath, a.keyPem);
  const changes: TlsMaterial[] = [];
  const errors: string[] = [];
  // Long poll and debounce: the test drives check() itself, so timing cannot matter.
  const w = watchTlsFiles({
    certPath,
    keyPath,
    current: { cert: a.certPem, key: a.keyPem },
    onChange: (m) => changes.push(m),
    onError: (e) => errors.push(e.message),
    pollMs: 3_600_000,
    debounceMs: 3_600_000,
  });
  try {
    w.check();
    assert.deepEqual(changes, []);
    writeFileSync(certPath, b.certPem); // the cert is new, the key not yet
    w.check();
    w.check();
    assert.deepEqual(changes, []);
    assert.equal(errors.length, 1, 'one error per distinct problem, not per tick');
    assert.match(errors[0] ?? '', /do not form a usable pair/);
    writeFileSync(keyPath, b.keyPem);
    w.check();
    w.check();
    assert.deepEqual(changes, [{ cert: b.certPem, key: b.keyPem }]);
  } finally {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
