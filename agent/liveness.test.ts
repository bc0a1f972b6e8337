import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFileReader, parseAgentLiveness } from './liveness.ts';

test('agent liveness config: defaults, the environment, and clear errors', () => {
  assert.deepEqual(parseAgentLiveness({}), { port: 9406, keyFile: '/etc/floatip/liveness/key', kubeletPort: 10250, host: '0.0.0.0' });
  assert.deepEqual(parseAgentLiveness({ FLOATIP_LIVENESS_PORT: '0', FLOATIP_KUBELET_PORT: '10255', HOST_IP: '10.110.0.4', FLOATIP_LIVENESS_KEY_FILE: '/k' }), { port: 0, keyFile: '/k', kubeletPort: 10255, host: '10.110.0.4' });
  assert.throws(() => parseAgentLiveness({ HOST_IP: 'node-1' }), /HOST_IP must be an IP address \(got "node-1"\)/);
  assert.throws(() => parseAgentLiveness({ FLOATIP_LIVENESS_PORT: '70000' }), /FLOATIP_LIVENESS_PORT must be a port number/);
});

test('key file: missing, too short, then written — read again once it changes, at most once a second', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floatip-key-'));
  const path = join(dir, 'key');
  let t = 0;
  const read = keyFileReader(path, () => t);
  try {
    assert.equal(read(), undefined, 'no file yet');
    writeFileSync(path, 'short');
    t += 1_000;
    assert.equal(read(), undefined, 'fewer than 16 bytes is no key');
    const key = Buffer.alloc(32, 7);
    writeFileSync(path, key);
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    t += 500;
    assert.equal(read(), undefined, 'within the second: the cached answer');
    t += 500;
    assert.deepEqual(read(), key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
