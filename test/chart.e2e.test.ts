// What users install is what is tested: helm's rendering of the chart, with a custom key given
// once in values, server-side applied to a real API server; then the webhook, the reconciler
// and one agent per node run with the rendered command lines, environment and mounted Secret,
// as the chart's service accounts, against the DigitalOcean emulator. Also: every metric the alerts
// and the dashboard query is one the two processes export, and helm install itself (dry run
// against this API server) prints the next steps and refuses a typo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from './cluster/harness.ts';
import type { ControlPlane } from './cluster/harness.ts';
import { freePort } from './cluster/processes.ts';
import { startEmulator } from './do-emulator/server.ts';
import type { RunningEmulator } from './do-emulator/server.ts';
import { CHART_DIR, findManifest, parseManifests, renderChart, runHelm } from './chart/helm.ts';
import type { HelmResult, Manifest } from './chart/helm.ts';
import { installRendered, mountedSecretFiles, runAsPod } from './chart/install.ts';
import type { ChartProcess, Installed } from './chart/install.ts';
import { dashboardExpressions, exportedNames, metricNames } from './chart/promql.ts';
import { FIELD_VALUES, runnable } from './chart/workloads.ts';
import { agentCredentials, metadataUrlOf } from './agent-fixture.ts';
import { ANCHOR_PATH } from '../agent/config.ts';
import { emulatorAdmin, dropletOf, nodeOf } from './reconciler-fixture.ts';
import { rejection } from './child-output.ts';

const NS = 'floatip-system';
const KEY = 'example.com/public-ip';
const DEFAULT_KEY = 'k8s.haim.dev/floating-ip';
const IP = '104.248.100.100';
const TOKEN = 'chart-e2e-token';

/** GET over TLS trusting `ca`; the body on 200, else an error naming the status. */
function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url} answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.end();
  });
}


function deployment(name: string, annotations: Record<string, string>, replicas = 2): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations },
        spec: {
          containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }] } },
        },
      },
    },
  };
}

/** helm install --dry-run=server with the custom key, and with a typo, as an operator would type them. */
async function helmInstallDryRun(cp: ControlPlane): Promise<{ ok: HelmResult; typo: HelmResult }> {
  const home = await mkdtemp(join(tmpdir(), 'floatip-helm-'));
  try {
    const env = { KUBECONFIG: cp.kubeconfigPath, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
    const install = (...extra: string[]) => runHelm(['install', 'floatip', CHART_DIR, '--namespace', NS, '--create-namespace', '--dry-run=server', '--set', `key=${KEY}`, ...extra], { env });
    return { ok: install(), typo: install('--set', 'reconciler.dryrun=true') };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

describe('the rendered chart on a real API server, custom key', () => {
  let cp: ControlPlane;
  let emulator: RunningEmulator;
  let objects: Manifest[];
  let installed: Installed;
  let webhook: ChartProcess;
  let reconciler: ChartProcess;
  const agents: ChartProcess[] = [];
  let webhookUrl: string;
  let reconcilerMetricsUrl: string;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  /** the webhook's CA as it keeps it in its Secret */
  let webhookCa = '';
  /** helm install --dry-run=server on the fresh cluster (before anything exists that it would refuse to adopt) */
  let dryRun: { ok: HelmResult; typo: HelmResult };

  before(async () => {
    [cp, emulator] = await Promise.all([startControlPlane(), startEmulator({ token: TOKEN, actionDelayMs: 100 })]);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    dryRun = await helmInstallDryRun(cp);
    objects = parseManifests(
      renderChart({
        key: KEY,
        namespace: { create: true },
        digitalocean: { apiUrl: emulator.url },
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
        grafanaDashboard: { enabled: true },
      }),
    );
    const [webhookPort, healthPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    // The webhook's self-managed certificate names its Service; "--service=localhost" makes
    // that name one the API server can dial on loopback. Nothing else of the command line changes.
    webhookUrl = `https://localhost:${webhookPort}`;
    reconcilerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    installed = await installRendered(cp, objects, webhookUrl);
    await Promise.all([1001, 1002, 1003].map((id) => cp.addNode(nodeOf(id), { dropletId: id })));
    // what docs/quickstart.md has the operator create
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'digital-ocean-token' }, stringData: { token: TOKEN } } });

    const loopback = ['--bind-address=127.0.0.1'];
    const w = runnable(objects, 'Deployment', 'floatip-webhook');
    webhook = await runAsPod(cp, w, { namespace: NS, overrides: [...loopback, `--port=${webhookPort}`, '--service=localhost'] });
    const r = runnable(objects, 'Deployment', 'floatip-reconciler');
    reconciler = await runAsPod(cp, r, {
      namespace: NS,
      overrides: [...loopback, `--health-port=${healthPort}`, `--metrics-port=${metricsPort}`],
      files: await mountedSecretFiles(cp, r, NS),
    });
    for (const [name, p] of [['webhook', webhook], ['reconciler', reconciler]] as const) {
      void p.exited.then((code) => {
        if (code !== null && code !== 0) console.error(`# ${name} exited ${code}: ${p.stderr()}`);
      });
    }
    webhookCa = await waitFor('the webhook to write its TLS Secret', async () => {
      const data = (await core.readNamespacedSecret({ namespace: NS, name: 'floatip-webhook-tls' }).catch(() => undefined))?.data;
      return data?.['ca.crt'] ? Buffer.from(data['ca.crt'], 'base64').toString('utf8') : undefined;
    }, { timeoutMs: 30_000 });
    await waitFor('the webhook to be ready', () => httpsGet(`${webhookUrl}/readyz`, webhookCa).then(() => true), { timeoutMs: 30_000 });
    await waitFor('the reconciler to lead', async () => reconciler.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 30_000 });
  });
  after(async () => {
    await Promise.all([webhook?.stop(), reconciler?.stop(), ...agents.map((a) => a.stop())]);
    await emulator?.close();
    await cp?.stop();
  });

  test('server-side applied as rendered; the pods of all three workloads pass Pod Security admission', async () => {
    assert.deepEqual(installed.skipped.map((o) => `${o.kind} ${o.metadata.name}`), ['PrometheusRule floatip', 'ServiceMonitor floatip-reconciler', 'ServiceMonitor floatip-webhook']);
    const ns = await core.readNamespace({ name: NS });
    assert.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    // kwok runs the pods: a pod Pod Security refused would never be created
    for (const name of ['floatip-webhook', 'floatip-reconciler']) {
      await waitFor(`Deployment ${name} to have 2 ready pods`, async () => (await apps.readNamespacedDeployment({ namespace: NS, name })).status?.readyReplicas === 2, { timeoutMs: 60_000 });
    }
    await waitFor('the agent on each of the 3 nodes', async () => (await apps.readNamespacedDaemonSet({ namespace: 'floatip-agent', name: 'floatip-agent' })).status?.numberReady === 3, { timeoutMs: 60_000 });
  });

  test('the webhook, as floatip-webhook with the chart RBAC, manages its CA: both caBundles hold it and the API server calls it', async () => {
    const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const bundles = await waitFor('caBundle in both configurations', async () => {
      const m = await admission.readMutatingWebhookConfiguration({ name: 'floatip' });
      const v = await admission.readValidatingWebhookConfiguration({ name: 'floatip' });
      const all = [...(m.webhooks ?? []), ...(v.webhooks ?? [])].map((h) => h.clientConfig.caBundle ?? '');
      return all.every((b) => b !== '') ? all : undefined;
    });
    for (const b of bundles) assert.equal(Buffer.from(b, 'base64').toString('utf8'), `${webhookCa.trim()}\n`);

    const probe: V1Pod = { metadata: { name: 'probe', annotations: { [KEY]: IP } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } };
    const labeled = await waitFor('the mutating webhook to label a pod with the custom key', async () => {
      const created = await core.createNamespacedPod({ namespace: 'default', body: probe, dryRun: 'All' }).catch(() => undefined);
      return created?.metadata?.labels?.[KEY] === 'true' ? created : undefined;
    });
    assert.deepEqual(labeled.metadata?.labels, { [KEY]: 'true' });
    const denied = await rejection(apps.createNamespacedDeployment({ namespace: 'default', body: deployment('typo', { [KEY]: '104.248.100' }) }));
    assert.equal(denied.code, 403);
    assert.match(denied.message, /^admission webhook "validate\.floatip\.k8s\.haim\.dev" denied the request: Deployment default\/typo: annotation example\.com\/public-ip: "104\.248\.100" is not an IPv4 or IPv6 address/);
  });

  test('the matchConditions follow the key: objects with only the default key never reach the webhook', async () => {
    const reviews = async () => {
      const text = await httpsGet(`${webhookUrl}/metrics`, webhookCa);
      return [...text.matchAll(/^floatip_webhook_reviews_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const before = await reviews();
    const plain = await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'old-key', annotations: { [DEFAULT_KEY]: IP } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } });
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('old-key', { [DEFAULT_KEY]: '104.248.100' }, 0) });
    assert.equal(plain.metadata?.labels, undefined);
    assert.equal(await reviews(), before);
    // the control: one pod with the custom key is one mutating and one validating review
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'new-key', annotations: { [KEY]: '104.248.100.101' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } });
    assert.equal(await reviews(), before + 2);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'new-key', gracePeriodSeconds: 0 });
  });

  test('end to end with the custom key: the reconciler, as floatip-reconciler with the token from the mounted Secret, assigns the IP', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web', { [KEY]: IP }) });
    const pods = await waitFor('2 ready pods of web', async () => {
      const list = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items;
      return list.length === 2 && list.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? list : undefined;
    }, { timeoutMs: 60_000 });
    for (const p of pods) assert.equal(p.metadata?.labels?.[KEY], 'true', 'labeled by the webhook');
    const droplets = pods.map((p) => dropletOf(p.spec?.nodeName));
    const admin = emulatorAdmin(emulator.url);
    const holder = await waitFor(`${IP} on a droplet of web`, async () => {
      const h = await admin.holder(IP);
      return typeof h === 'number' && droplets.includes(h) ? h : undefined;
    }, { timeoutMs: 30_000 });
    const attached = await waitFor('the attach log line', async () => reconciler.lines.find((l) => l['msg'] === 'Floating IP attached to droplet' && l['ip'] === IP));
    assert.equal(attached['droplet'], holder);
    assert.equal(reconciler.stderr(), '');
    assert.equal(JSON.stringify(reconciler.lines).includes(TOKEN), false, 'the token is never logged');
  });

  test('the agent as the chart runs it records <key prefix>/anchor-ipv4; a Service of the key\'s class gets the holder\'s anchor and the IP', async () => {
    const agentSpec = runnable(objects, 'DaemonSet', 'floatip-agent');
    const anchorOf = async (id: number) => (await (await fetch(`${metadataUrlOf(emulator.url, id)}${ANCHOR_PATH}`)).text()).trim();
    for (const id of [1001, 1002, 1003]) {
      const nodeName = nodeOf(id);
      // a token bound to the DaemonSet's pod on that node, as the kubelet projects it (the policy checks the node)
      const credentials = await agentCredentials(cp, nodeName);
      const r = runnable(objects, 'DaemonSet', 'floatip-agent', { ...FIELD_VALUES, 'spec.nodeName': nodeName });
      agents.push(await runAsPod(cp, r, { namespace: 'floatip-agent', overrides: [`--metadata-url=${metadataUrlOf(emulator.url, id)}`], kubeconfigYaml: credentials.yaml }));
    }
    assert.equal(agentSpec.pod.serviceAccountName, 'floatip-agent');
    for (const id of [1001, 1002, 1003]) {
      const expected = await anchorOf(id);
      await waitFor(`example.com/anchor-ipv4 on ${nodeOf(id)}`, async () => (await core.readNode({ name: nodeOf(id) })).metadata?.annotations?.['example.com/anchor-ipv4'] === expected);
    }
    await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: { type: 'LoadBalancer', loadBalancerClass: KEY, externalTrafficPolicy: 'Local', allocateLoadBalancerNodePorts: false, selector: { app: 'web' }, ports: [{ name: 'game', port: 7777, protocol: 'UDP' }] },
      },
    });
    const holder = await emulatorAdmin(emulator.url).holder(IP);
    assert.equal(typeof holder, 'number');
    const anchor = await anchorOf(holder as number);
    const svc = await waitFor('the Service to be exposed on the holder\'s anchor', async () => {
      const s = await core.readNamespacedService({ namespace: 'default', name: 'web' });
      return s.spec?.externalIPs?.join() === anchor && s.status?.loadBalancer?.ingress?.[0]?.ip === IP ? s : undefined;
    }, { timeoutMs: 30_000 });
    assert.deepEqual(svc.status?.loadBalancer?.ingress?.map((i) => i.ip), [IP]);
    for (const a of agents) assert.equal(a.stderr(), '');
  });

  test('every metric the alerts and the dashboard query is exported by the webhook or the reconciler', async () => {
    const exported = new Set([
      ...exportedNames(await httpsGet(`${webhookUrl}/metrics`, webhookCa)),
      ...exportedNames(await (await fetch(reconcilerMetricsUrl)).text()),
    ]);
    const rule = findManifest(objects, 'PrometheusRule', 'floatip');
    const alerts = (rule.spec.groups as { rules: { alert: string; expr: string }[] }[]).flatMap((g) => g.rules);
    // the dashboard as Grafana's sidecar would read it: from the applied ConfigMap
    const configMap = await core.readNamespacedConfigMap({ namespace: NS, name: 'floatip-dashboard' });
    const dashboard = JSON.parse(configMap.data?.['floatip.json'] ?? 'null') as Parameters<typeof dashboardExpressions>[0];
    const expressions = [...alerts.map((a) => a.expr), ...dashboardExpressions(dashboard)];
    assert.ok(alerts.length >= 8 && expressions.length >= 30, `only ${alerts.length} alerts and ${expressions.length} expressions`);
    // kube_*: kube-state-metrics (FloatipAgentUnavailable; the agent serves no metrics of its own)
    const unknown = expressions.flatMap((e) => metricNames(e).filter((n) => !exported.has(n) && !n.startsWith('kube_')).map((n) => `${n} in ${e}`));
    assert.deepEqual(unknown, []);
  });

  test('helm install (dry run against this API server) prints the next steps; a typo in values is refused first', () => {
    assert.equal(dryRun.ok.status, 0, dryRun.ok.stderr);
    const notes = dryRun.ok.stdout.slice(dryRun.ok.stdout.indexOf('NOTES:'));
    for (const line of [
      `floatip 0.1.0 is installed in namespace ${NS} (key ${KEY}).`,
      `kubectl -n ${NS} create secret generic digital-ocean-token --from-literal=token="$DIGITALOCEAN_TOKEN"`,
      `         ${KEY}: "<your reserved IP>"`,
      // the reconciler's default class is a prefixed key itself
      `       loadBalancerClass: ${KEY}`,
      '     kubectl rollout restart deployment/<name>',
      `     kubectl get pods -A -l ${KEY}=true`,
    ]) {
      assert.ok(notes.includes(line), `NOTES lacks "${line}":\n${notes}`);
    }
    assert.notEqual(dryRun.typo.status, 0);
    assert.ok(dryRun.typo.stderr.includes("- at '/reconciler': additional properties 'dryrun' not allowed"), dryRun.typo.stderr);
  });
});
