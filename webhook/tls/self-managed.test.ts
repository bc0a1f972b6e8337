import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/logger.ts';
import { createCertificateAuthority, issueServingCertificate } from './certs.ts';
import { caBundleOf } from './rotation.ts';
import type { CertFactory, StoredTls } from './rotation.ts';
import { startSelfManagedTls, syncTls } from './self-managed.ts';
import type { CaBundleTarget, TlsSecretStore } from './self-managed.ts';

const DAY = 24 * 60 * 60 * 1000;
const policy = { caValidityMs: 10 * DAY, certValidityMs: 5 * DAY, caRenewBeforeMs: 3 * DAY, certRenewBeforeMs: DAY, stageMs: 60_000 };
const factory: CertFactory = {
  newCa: (now) => createCertificateAuthority({ now, validityMs: policy.caValidityMs }),
  issue: (ca, now, hosts) => issueServingCertificate(ca, { now, validityMs: policy.certValidityMs, hosts }),
};
const logger = createLogger({ level: 'silent' });

/** An in-memory Secret with resourceVersion semantics, like the API server's. */
function memoryStore() {
  let stored: { data: StoredTls; version: number } | null = null;
  const writes: string[] = [];
  const store: TlsSecretStore = {
    read: async () => (stored ? { data: stored.data, version: String(stored.version) } : null),
    create: async (data) => {
      await new Promise((r) => setImmediate(r));
      if (stored) return false;
      stored = { data, version: 1 };
      writes.push('create');
      return true;
    },
    update: async (data, version) => {
      if (!stored || String(stored.version) !== version) return false;
      stored = { data, version: stored.version + 1 };
      writes.push('update');
      return true;
    },
  };
  return { store, writes, current: () => stored };
}

function bundleRecorder() {
  let bundle = '';
  const patches: string[] = [];
  const target: CaBundleTarget = {
    ensure: async (pem) => {
      if (pem === bundle) return false;
      bundle = pem;
      patches.push(pem);
      return true;
    },
  };
  return { target, patches };
}

test('two replicas starting together: one creates the Secret, the other adopts its certificate', async () => {
  const mem = memoryStore();
  const rec = bundleRecorder();
  const deps = { store: mem.store, bundle: rec.target, hosts: ['floatip-webhook.floatip-system.svc'], policy, factory, logger };
  const [a, b] = await Promise.all([syncTls(deps), syncTls(deps)]);
  assert.equal(a.tlsCert, b.tlsCert);
  assert.equal(a.caCert, b.caCert);
  assert.deepEqual(mem.writes, ['create']);
  assert.equal(mem.current()?.data.tlsCert, a.tlsCert);
  assert.deepEqual(rec.patches, [caBundleOf(a)]);
});

test('an up-to-date Secret is only read; a stale serving cert is renewed with an update', async () => {
  const mem = memoryStore();
  const rec = bundleRecorder();
  const t0 = new Date('2026-11-25T00:00:00Z');
  let now = t0;
  const deps = { store: mem.store, bundle: rec.target, hosts: ['svc'], policy, factory, logger, now: () => now };
  const first = await syncTls(deps);
  const again = await syncTls(deps);
  assert.equal(again, first);
  assert.deepEqual(mem.writes, ['create']);
  now = new Date(t0.getTime() + 4.5 * DAY);
  const renewed = await syncTls(deps);
  assert.notEqual(renewed.tlsCert, first.tlsCert);
  assert.equal(renewed.caCert, first.caCert);
  assert.deepEqual(mem.writes, ['create', 'update']);
  assert.equal(rec.patches.length, 1, 'same CA: the caBundle is not patched again');
});

test('a lost update race re-reads and uses the winner', async () => {
  const mem = memoryStore();
  const rec = bundleRecorder();
  const deps = { store: mem.store, bundle: rec.target, hosts: ['svc'], policy, factory, logger };
  const winner = await syncTls(deps);
  // a store whose first update loses to a concurrent writer
  let lost = false;
  const racing: TlsSecretStore = {
    ...mem.store,
    update: async (data, version) => {
      if (!lost) {
        lost = true;
        return false;
      }
      return mem.store.update(data, version);
    },
  };
  const result = await syncTls({ ...deps, store: racing, hosts: ['svc', 'svc.ns'] });
  assert.equal(lost, true);
  assert.equal(result.caCert, winner.caCert);
  assert.deepEqual(mem.writes, ['create', 'update']);
});

test('constant conflicts end in a clear error', async () => {
  const store: TlsSecretStore = { read: async () => null, create: async () => false, update: async () => false };
  await assert.rejects(syncTls({ store, bundle: bundleRecorder().target, hosts: ['svc'], policy, factory, logger }), {
    message: 'could not settle the webhook TLS Secret after 5 attempts (constant write conflicts)',
  });
});

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('startSelfManagedTls serves at once, retries a missing configuration, and follows a cert written by another replica', async () => {
  const mem = memoryStore();
  const rec = bundleRecorder();
  let missing = 2; // the webhook configurations appear after two attempts
  const bundle: CaBundleTarget = {
    ensure: async (pem) => {
      if (missing-- > 0) throw new Error('mutatingwebhookconfigurations "floatip" not found');
      return rec.target.ensure(pem);
    },
  };
  const changes: string[] = [];
  const deps = { store: mem.store, bundle, hosts: ['svc'], policy, factory, logger };
  const managed = await startSelfManagedTls({ ...deps, intervalMs: 30, retryMs: 10, onChange: (m) => changes.push(m.cert) });
  try {
    assert.equal(managed.initial.cert, mem.current()?.data.tlsCert);
    await until('the caBundle patch', () => rec.patches.length === 1);
    assert.deepEqual(rec.patches, [caBundleOf(mem.current()!.data)]);
    // another replica renews the serving cert (wider names): this one picks it up
    const other = await syncTls({ ...deps, bundle: rec.target, hosts: ['svc', 'svc.ns'] });
    await until('the new certificate', () => changes.length === 1);
    assert.deepEqual(changes, [other.tlsCert]);
  } finally {
    managed.stop();
  }
});
