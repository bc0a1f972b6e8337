// The pure parts of the e2e harness, without a control plane: certificate chains, the
// webhook-configuration rewrite, the fake node shape and waitFor's deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generateControlPlaneCerts } from './certs.ts';
import { readManifests, rewriteWebhookConfigurations, WEBHOOK_CONFIGURATIONS } from './manifests.ts';
import { fakeNode } from './nodes.ts';
import { waitFor } from './wait.ts';

test('control-plane certificates chain to one CA, with the names the components need', async () => {
  const certs = await generateControlPlaneCerts();
  const ca = new X509Certificate(certs.ca.cert);
  assert.equal(ca.ca, true);
  const server = new X509Certificate(certs.apiServer.cert);
  assert.equal(server.verify(ca.publicKey), true);
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(server.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
  const subjects = Object.values(certs.clients).map((c) => {
    const x = new X509Certificate(c.cert);
    assert.equal(x.verify(ca.publicKey), true);
    return x.subject.replace(/\n/g, ',');
  });
  assert.deepEqual(subjects, ['CN=floatip-test-admin,O=system:masters', 'CN=system:kube-controller-manager', 'CN=system:kube-scheduler']);
  assert.notEqual(server.serialNumber, new X509Certificate(certs.clients.admin.cert).serialNumber);
});

test('webhook configurations from deploy/ point at the URL and trust the given CA', async () => {
  const rewritten = rewriteWebhookConfigurations(await readManifests(WEBHOOK_CONFIGURATIONS), {
    url: 'https://127.0.0.1:9443/',
    caBundlePem: 'PEM',
    failurePolicy: 'Ignore',
  });
  const hooks = rewritten.flatMap((o) =>
    ((o as { webhooks?: { name: string; clientConfig: unknown; failurePolicy: string }[] }).webhooks ?? []).map((w) => [
      o.kind,
      w.name,
      w.clientConfig,
      w.failurePolicy,
    ]),
  );
  const clientConfig = (path: string) => ({ url: `https://127.0.0.1:9443${path}`, caBundle: Buffer.from('PEM').toString('base64') });
  assert.deepEqual(hooks, [
    ['MutatingWebhookConfiguration', 'mutate.floatip.k8s.haim.dev', clientConfig('/mutate'), 'Ignore'],
    ['ValidatingWebhookConfiguration', 'validate.floatip.k8s.haim.dev', clientConfig('/validate'), 'Ignore'],
  ]);
});

test('a fake node has the DOKS shape and is kwok-managed; a NotReady one is left to the test', () => {
  const node = fakeNode('pool-a-1', { dropletId: 1001, labels: { 'doks.digitalocean.com/node-pool': 'gpu' } });
  assert.equal(node.spec?.providerID, 'digitalocean://1001');
  assert.equal(node.metadata?.labels?.['doks.digitalocean.com/node-pool'], 'gpu');
  assert.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'pool-a-1');
  assert.deepEqual(node.metadata?.annotations, { 'kwok.x-k8s.io/node': 'fake' });
  const notReady = fakeNode('pool-a-2', { dropletId: 1002, ready: false });
  assert.deepEqual(notReady.metadata?.annotations, { 'kwok.x-k8s.io/node': 'fake', 'kwok.x-k8s.io/status': 'custom' });
});

test('waitFor returns the first truthy value and names what timed out, with the last error', async () => {
  let calls = 0;
  assert.equal(await waitFor('three calls', async () => (++calls === 3 ? 'done' : undefined), { intervalMs: 1 }), 'done');
  await assert.rejects(
    waitFor('the impossible', async () => {
      throw new Error('boom');
    }, { timeoutMs: 20, intervalMs: 5 }),
    { message: 'timed out after 20 ms waiting for the impossible; last error: boom' },
  );
});
