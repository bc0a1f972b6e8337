// The chart's command lines, handed to the processes' own config parsers: every flag the chart
// can render exists, every value means what values.yaml says, and the token is read from the
// mounted Secret. A renamed or removed flag fails here, not in a user's CrashLoopBackOff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from '../agent/config.ts';
import { parseAgentLiveness } from '../agent/liveness.ts';
import { parseConfig as parseReconcilerConfig } from '../reconciler/config.ts';
import type { ReconcilerConfig } from '../reconciler/config.ts';
import { parseConfig as parseWebhookConfig } from '../webhook/config.ts';
import { findManifest, parseManifests, renderChart } from './chart/helm.ts';
import { runnable, secretFileAt } from './chart/workloads.ts';
import type { RunnableContainer } from './chart/workloads.ts';

/** Every value that changes a flag, set away from its default. */
const ALL_OPTIONS = {
  key: 'example.com/public-ip',
  anchorRange: '10.30.0.0/16',
  clusterDomain: 'cluster.example',
  digitalocean: { tokenSecret: { name: 'do-api', key: 'api-token' }, apiUrl: 'http://127.0.0.1:9' },
  reconciler: {
    dryRun: true,
    namespaces: ['games', 'web'],
    coolOff: '30s',
    resyncInterval: '2m',
    actionExpiry: '10m',
    unassignWhenUnplaced: true,
    adoptableIps: ['203.0.113.0/24', '198.51.100.7'],
    loadBalancerClass: 'example.com/reserved-ip',
    firewall: false,
    firewallAllowedPorts: ['tcp/22', '30000-30010'],
    firewallDeniedPorts: ['udp/53'],
    nodeHeartbeatGrace: '25s',
    liveness: { interval: '400ms', timeout: '350ms', indirectProbers: 4, kubeletPort: 10255, agentPort: 9500 },
    antiAffinity: 'preferred',
    lease: { duration: '20s', renewDeadline: '12s', retryPeriod: '2s' },
    shutdownTimeout: '20s',
    logLevel: 'debug',
  },
  webhook: { shutdownDelay: '3s', shutdownTimeout: '15s', logLevel: 'warn' },
  agent: { metadataUrl: 'http://127.0.0.1:9', interval: '30s', logLevel: 'debug' },
};

// An in-cluster process sees KUBERNETES_SERVICE_HOST; the address itself is never used here.
const IN_CLUSTER = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' };

/** The reconciler's config as the pod would parse it; the token file resolves through the pod's Secret volumes. */
function reconcilerConfigOf(r: RunnableContainer, secrets: Record<string, Record<string, string>>): ReconcilerConfig {
  const parsed = parseReconcilerConfig({
    argv: r.args,
    env: { ...IN_CLUSTER, ...r.env },
    hostname: 'unused',
    readFile: (path) => {
      const file = secretFileAt(r, path);
      const value = file && secrets[file.secret]?.[file.key];
      if (value === undefined) throw Object.assign(new Error(`no such file ${path}`), { code: 'ENOENT' });
      return value;
    },
  });
  assert.equal(parsed.kind, 'ok', parsed.kind === 'error' ? `the reconciler refuses the chart's flags: ${parsed.message}` : '');
  if (parsed.kind !== 'ok') throw new Error('unreachable');
  return parsed.config;
}

test('reconciler: every value the chart exposes reaches the parsed config; the token comes from the mounted Secret', () => {
  const r = runnable(parseManifests(renderChart(ALL_OPTIONS)), 'Deployment', 'floatip-reconciler');
  const config = reconcilerConfigOf(r, { 'do-api': { 'api-token': 'token-from-secret\n' } });
  assert.equal(config.token, 'token-from-secret');
  assert.equal(r.env['DIGITALOCEAN_TOKEN'], undefined);
  assert.deepEqual(
    {
      apiUrl: config.apiUrl,
      key: config.keys.annotation,
      dryRun: config.dryRun,
      namespaces: config.namespaces,
      coolOffMs: config.coolOffMs,
      resyncIntervalMs: config.resyncIntervalMs,
      actionExpiryMs: config.actionExpiryMs,
      unassignWhenUnplaced: config.unassignWhenUnplaced,
      lease: config.lease,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      logLevel: config.logLevel,
      podName: config.podName,
      bindAddress: config.bindAddress,
      ports: [config.healthPort, config.metricsPort],
    },
    {
      apiUrl: 'http://127.0.0.1:9',
      key: 'example.com/public-ip',
      dryRun: true,
      namespaces: ['games', 'web'],
      coolOffMs: 30_000,
      resyncIntervalMs: 120_000,
      actionExpiryMs: 600_000,
      unassignWhenUnplaced: true,
      lease: { name: 'floatip-reconciler', namespace: 'floatip-system', durationMs: 20_000, renewDeadlineMs: 12_000, retryPeriodMs: 2_000 },
      shutdownTimeoutMs: 20_000,
      logLevel: 'debug',
      podName: 'floatip-test-pod',
      bindAddress: '0.0.0.0',
      ports: [8081, 8080],
    },
  );
  assert.deepEqual(config.adoptable.entries, ['203.0.113.0/24', '198.51.100.7']);
  assert.deepEqual([config.loadBalancerClass, config.manageFirewall], ['example.com/reserved-ip', false]);
  assert.deepEqual(config.heartbeat, { enabled: true, graceMs: 25_000 });
  assert.deepEqual(config.firewallPortLists, { allowed: 'tcp/22,30000-30010', denied: 'udp/53' });
  assert.deepEqual([config.firewallPorts?.refuses('tcp', 22), config.firewallPorts?.refuses('udp', 30005)], [undefined, undefined]);
  assert.match(config.firewallPorts?.refuses('udp', 53) ?? '', /--firewall-denied-ports/);
  assert.equal(config.anchorRange?.cidr, '10.30.0.0/16');
  const off = reconcilerConfigOf(runnable(parseManifests(renderChart({ reconciler: { heartbeatFailover: false } })), 'Deployment', 'floatip-reconciler'), {
    'digital-ocean-token': { token: 't' },
  });
  assert.equal(off.heartbeat.enabled, false);
  assert.deepEqual(config.liveness, { enabled: true, intervalMs: 400, timeoutMs: 350, indirectProbers: 4, kubeletPort: 10255, agentPort: 9500, secret: { namespace: 'floatip-agent', name: 'floatip-liveness-key' }, nodeName: 'pool-a-1' });
  const noProbes = reconcilerConfigOf(runnable(parseManifests(renderChart({ reconciler: { liveness: { enabled: false } } })), 'Deployment', 'floatip-reconciler'), { 'digital-ocean-token': { token: 't' } });
  assert.equal(noProbes.liveness?.enabled, false);
});

test("reconciler: the chart's defaults are the process's own defaults", () => {
  const r = runnable(parseManifests(renderChart()), 'Deployment', 'floatip-reconciler');
  const fromChart = reconcilerConfigOf(r, { 'digital-ocean-token': { token: 't' } });
  // the chart turns the liveness probes on; a bare process does not (it may run where the
  // nodes' addresses are not its network)
  const bare = parseReconcilerConfig({ argv: ['--liveness-probes'], env: { ...IN_CLUSTER, DIGITALOCEAN_TOKEN: 't', POD_NAMESPACE: 'floatip-system', NODE_NAME: 'pool-a-1' }, hostname: 'floatip-test-pod', readFile: () => '' });
  assert.equal(bare.kind, 'ok');
  if (bare.kind !== 'ok') return;
  // the pod differs on purpose only in where it listens
  assert.deepEqual({ ...fromChart, bindAddress: 'x' }, { ...bare.config, bindAddress: 'x' });
});

test('webhook: self-managed and cert-manager command lines parse; cert-manager files come from the Certificate Secret', () => {
  const selfManaged = runnable(parseManifests(renderChart(ALL_OPTIONS)), 'Deployment', 'floatip-webhook');
  const a = parseWebhookConfig(selfManaged.args, selfManaged.env);
  assert.equal(a.kind, 'ok', a.kind === 'error' ? a.message : '');
  if (a.kind !== 'ok') return;
  assert.equal(a.config.keys.annotation, 'example.com/public-ip');
  assert.deepEqual(a.config.tls, {
    mode: 'self-signed',
    namespace: 'floatip-system',
    service: 'floatip-webhook',
    secret: 'floatip-webhook-tls',
    mutatingConfiguration: 'floatip',
    validatingConfiguration: 'floatip',
    clusterDomain: 'cluster.example',
    checkIntervalMs: 600_000,
  });
  assert.deepEqual([a.config.shutdownDelayMs, a.config.shutdownTimeoutMs, a.config.logLevel], [3_000, 15_000, 'warn']);

  const certManager = runnable(parseManifests(renderChart({ ...ALL_OPTIONS, webhook: { tls: { mode: 'cert-manager' } } })), 'Deployment', 'floatip-webhook');
  const b = parseWebhookConfig(certManager.args, certManager.env);
  assert.equal(b.kind, 'ok', b.kind === 'error' ? b.message : '');
  if (b.kind !== 'ok' || b.config.tls.mode !== 'files') throw new Error(`expected TLS from files, got ${JSON.stringify(b)}`);
  assert.deepEqual(secretFileAt(certManager, b.config.tls.certPath), { secret: 'floatip-webhook-cert', key: 'tls.crt' });
  assert.deepEqual(secretFileAt(certManager, b.config.tls.keyPath), { secret: 'floatip-webhook-cert', key: 'tls.key' });
});

test("agent: the DaemonSet's command line parses; its annotation follows the key's prefix", () => {
  const r = runnable(parseManifests(renderChart(ALL_OPTIONS)), 'DaemonSet', 'floatip-agent');
  const parsed = parseAgentConfig({ argv: r.args, env: { ...IN_CLUSTER, ...r.env } });
  assert.equal(parsed.kind, 'ok', parsed.kind === 'error' ? parsed.message : '');
  if (parsed.kind !== 'ok') return;
  assert.deepEqual(
    [parsed.config.nodeName, parsed.config.metadataUrl, parsed.config.annotation, parsed.config.intervalMs, parsed.config.logLevel],
    ['pool-a-1', 'http://127.0.0.1:9', 'example.com/anchor-ipv4', 30_000, 'debug'],
  );
  // the indirect-probe endpoint: the reconciler's agent port, the kubelet port, the node's VPC address, the key the reconciler keeps
  const liveness = parseAgentLiveness(r.env);
  assert.deepEqual(liveness, { port: 9500, keyFile: '/etc/floatip/liveness/key', kubeletPort: 10255, host: '10.110.0.2' });
  const mount = r.container.volumeMounts?.find((m) => liveness.keyFile.startsWith(`${m.mountPath}/`));
  assert.equal(r.pod.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName, 'floatip-liveness-key');
  const off = runnable(parseManifests(renderChart({ reconciler: { liveness: { enabled: false } } })), 'DaemonSet', 'floatip-agent');
  assert.equal(parseAgentLiveness(off.env).port, 0);
  assert.equal(parsed.config.anchorRange?.cidr, '10.30.0.0/16');
});

test('ipPolicy: both processes read the policy file from the mounted ConfigMap and enforce it', () => {
  const objects = parseManifests(renderChart({ ipPolicy: { shop: ['104.248.100.100'] } }));
  const data = (findManifest(objects, 'ConfigMap', 'floatip-ip-policy').data ?? {}) as Record<string, string>;
  // the file a ConfigMap volume of the pod shows at `path`, as the kubelet would mount it
  const configMapFile = (r: RunnableContainer) => (path: string): string => {
    for (const mount of r.container.volumeMounts ?? []) {
      const volume = r.pod.volumes?.find((v) => v.name === mount.name);
      const text = volume?.configMap?.name === 'floatip-ip-policy' && path.startsWith(`${mount.mountPath}/`) ? data[path.slice(mount.mountPath.length + 1)] : undefined;
      if (text !== undefined) return text;
    }
    throw Object.assign(new Error(`no such file ${path}`), { code: 'ENOENT' });
  };
  const rec = runnable(objects, 'Deployment', 'floatip-reconciler');
  const reconciler = parseReconcilerConfig({ argv: rec.args, env: { ...IN_CLUSTER, ...rec.env }, hostname: 'unused', readFile: (path) => (path === rec.env['DIGITALOCEAN_TOKEN_FILE'] ? 't' : configMapFile(rec)(path)) });
  const hook = runnable(objects, 'Deployment', 'floatip-webhook');
  const webhook = parseWebhookConfig(hook.args, hook.env, configMapFile(hook));
  for (const [name, parsed] of [['reconciler', reconciler], ['webhook', webhook]] as const) {
    assert.equal(parsed.kind, 'ok', parsed.kind === 'error' ? `${name}: ${parsed.message}` : name);
    const policy = parsed.kind === 'ok' ? parsed.config.ipPolicy : undefined;
    assert.deepEqual([policy?.allows('shop', '104.248.100.100'), policy?.allows('web', '104.248.100.100')], [true, false], name);
  }
});

test('reconciler replicas: required anti-affinity by default (one rollout step at a time), preferred on request', () => {
  const spec = (values?: Record<string, unknown>) => findManifest(parseManifests(renderChart(values)), 'Deployment', 'floatip-reconciler').spec;
  const required = spec();
  assert.deepEqual(required.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(required.strategy.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 });
  const preferred = spec({ reconciler: { antiAffinity: 'preferred' } });
  assert.equal(preferred.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.deepEqual(preferred.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
});

test('webhook.networkPolicy: off by default; on, only the listed peers reach port 8443 of the webhook pods', () => {
  assert.equal(parseManifests(renderChart()).some((o) => o.kind === 'NetworkPolicy'), false);
  const peer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'konnectivity-agent' } } };
  const objects = parseManifests(renderChart({ webhook: { networkPolicy: { enabled: true, from: [peer, { ipBlock: { cidr: '10.124.0.0/20' } }] } } }));
  const np = findManifest(objects, 'NetworkPolicy', 'floatip-webhook') as { spec?: Record<string, unknown> };
  const webhookPod = findManifest(objects, 'Deployment', 'floatip-webhook') as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };
  const selector = (np.spec?.['podSelector'] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
  assert.ok(Object.entries(selector).every(([k, v]) => webhookPod.spec?.template?.metadata?.labels?.[k] === v), 'selects the webhook pods');
  assert.deepEqual(np.spec?.['ingress'], [{ ports: [{ protocol: 'TCP', port: 8443 }], from: [peer, { ipBlock: { cidr: '10.124.0.0/20' } }] }]);
  assert.deepEqual(np.spec?.['policyTypes'], ['Ingress']);
});
