// The pure parts of the e2e harness, without a control plane: certificate chains, the
// webhook-configuration rewrite, the fake node shape and waitFor's deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generateControlPlaneCerts } from './certs.ts';
import { readManifests, rewriteWebhookConfigurations, WEBHOOK_CONFIGURATIONS } from './manifests.ts';
import { componentArgs } from './component-args.ts';
import { fakeNode } from './nodes.ts';
import { partitionPolicyObjects, PARTITIONS } from './partition.ts';
import { readinessConditions } from './pods.ts';
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
  assert.deepEqual(subjects, [
    'CN=floatip-test-admin,O=system:masters',
    'CN=system:kube-controller-manager',
    'CN=system:kube-scheduler',
    'CN=floatip-test-kwok,O=system:masters',
  ]);
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

test('the controller-manager gets the grace period asked for, 10 s by default; kwok has its own kubeconfig', () => {
  const layout = { dir: '/d', etcdPort: 1, etcdPeerPort: 2, apiPort: 3, cmPort: 4, schedulerPort: 5 };
  const grace = (args: Record<string, string[]>) => args['kube-controller-manager']?.filter((a) => a.startsWith('--node-monitor-grace-period='));
  assert.deepEqual(grace(componentArgs(layout)), ['--node-monitor-grace-period=10000ms']);
  assert.deepEqual(grace(componentArgs(layout, { nodeMonitorGracePeriodMs: 50_000 })), ['--node-monitor-grace-period=50000ms']);
  assert.deepEqual(componentArgs(layout).kwok.filter((a) => a.startsWith('--kubeconfig=')), ['--kubeconfig=/d/kwok.kubeconfig']);
});

test('the partition policy matches only kwok\'s user, and its binding reads the partitions ConfigMap', () => {
  const [policy, binding, params] = partitionPolicyObjects('kwok-user') as { kind: string; spec?: Record<string, unknown>; metadata?: object }[];
  assert.deepEqual([policy?.kind, binding?.kind, params?.kind], ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ConfigMap']);
  assert.deepEqual(policy?.spec?.['matchConditions'], [{ name: 'kwok-only', expression: "request.userInfo.username == 'kwok-user'" }]);
  assert.deepEqual(binding?.spec?.['paramRef'], { ...PARTITIONS, parameterNotFoundAction: 'Allow' });
  assert.deepEqual(params?.metadata, { ...PARTITIONS });
});

test('readinessConditions: flips Ready and ContainersReady, keeps the rest, moves transition times only on change', () => {
  const t0 = new Date(Date.UTC(2026, 0, 1));
  const now = new Date(Date.UTC(2026, 0, 2));
  const ready = [
    { type: 'Initialized', status: 'True', lastTransitionTime: t0 },
    { type: 'Ready', status: 'True', lastTransitionTime: t0 },
    { type: 'ContainersReady', status: 'True', lastTransitionTime: t0 },
  ];
  const failing = readinessConditions(ready, false, now);
  assert.deepEqual(failing.map((c) => [c.type, c.status, c.lastTransitionTime, c.reason]), [
    ['Initialized', 'True', t0, undefined],
    ['Ready', 'False', now, 'ContainersNotReady'],
    ['ContainersReady', 'False', now, 'ContainersNotReady'],
  ]);
  assert.deepEqual(readinessConditions(ready, true, now).map((c) => [c.type, c.status, c.lastTransitionTime]), ready.map((c) => [c.type, c.status, t0]));
  assert.deepEqual(readinessConditions([], false, now).map((c) => [c.type, c.status]), [['Ready', 'False'], ['ContainersReady', 'False']]);
});
