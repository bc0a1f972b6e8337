// The Helm chart through the real helm CLI: lint, render with the defaults and the variants
// operators use (cert-manager, custom key, dry run, watched namespaces, monitoring), and
// values.schema.json refusing bad values with a message that names the value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createReconcilerMetrics } from '../reconciler/metrics.ts';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import { CHART_DIR, findManifest, parseManifests, REPO_ROOT, renderChart, runHelm } from './chart/helm.ts';
import type { Manifest } from './chart/helm.ts';

const kinds = (objects: readonly Manifest[]) => objects.map((o) => `${o.kind} ${o.metadata.namespace ? o.metadata.namespace + '/' : ''}${o.metadata.name}`);
const render = (values: Record<string, unknown> = {}) => parseManifests(renderChart(values));
const workloads = (objects: readonly Manifest[]) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');

describe('helm lint', () => {
  for (const [name, values] of [
    ['default values', {}],
    ['cert-manager TLS', { webhook: { tls: { mode: 'cert-manager' } } }],
    ['namespace IP policy', { ipPolicy: { shop: ['104.248.100.100'], '*': [] } }],
    ['custom key, dry run, namespaces, monitoring', { key: 'example.com/ip', reconciler: { dryRun: true, namespaces: ['web'] }, serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, grafanaDashboard: { enabled: true } }],
  ] as const) {
    test(name, () => {
      const r = runHelm(['lint', '--strict', CHART_DIR, '--namespace', 'floatip-system', '--values', '-'], { input: JSON.stringify(values) });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe('helm template', () => {
  test('defaults: the webhook, the reconciler and the agent with their RBAC, nothing optional', () => {
    assert.deepEqual(kinds(render()).sort(), [
      'ClusterRole floatip-agent',
      'ClusterRole floatip-reconciler',
      'ClusterRole floatip-webhook-cabundle',
      'ClusterRoleBinding floatip-agent',
      'ClusterRoleBinding floatip-reconciler',
      'ClusterRoleBinding floatip-webhook-cabundle',
      'DaemonSet floatip-agent/floatip-agent',
      'Deployment floatip-system/floatip-reconciler',
      'Deployment floatip-system/floatip-webhook',
      'MutatingWebhookConfiguration floatip',
      'Namespace floatip-agent',
      'PodDisruptionBudget floatip-system/floatip-reconciler',
      'PodDisruptionBudget floatip-system/floatip-webhook',
      'Role floatip-agent/floatip-reconciler-liveness-key',
      'Role floatip-system/floatip-reconciler-leader-election',
      'Role floatip-system/floatip-webhook-tls',
      'Role kube-node-lease/floatip-reconciler-node-heartbeats',
      'RoleBinding floatip-agent/floatip-reconciler-liveness-key',
      'RoleBinding floatip-system/floatip-reconciler-leader-election',
      'RoleBinding floatip-system/floatip-webhook-tls',
      'RoleBinding kube-node-lease/floatip-reconciler-node-heartbeats',
      'Service floatip-system/floatip-webhook',
      'ServiceAccount floatip-agent/floatip-agent',
      'ServiceAccount floatip-system/floatip-reconciler',
      'ServiceAccount floatip-system/floatip-webhook',
      'ValidatingAdmissionPolicy floatip-agent-node-annotation',
      'ValidatingAdmissionPolicyBinding floatip-agent-node-annotation',
      'ValidatingWebhookConfiguration floatip',
    ]);
  });

  test('every pod: non-root, seccomp RuntimeDefault, read-only root, no capabilities, no privilege escalation, own service account', () => {
    const variants = [{}, { webhook: { tls: { mode: 'cert-manager' } } }];
    const seen = new Set<string>();
    for (const values of variants) {
      for (const w of workloads(render(values))) {
        const pod = w.spec.template.spec;
        seen.add(`${w.kind} ${w.metadata.name} as ${pod.serviceAccountName}`);
        assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } }, w.metadata.name);
        for (const c of pod.containers) {
          assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, `${w.metadata.name}/${c.name}`);
        }
      }
    }
    assert.deepEqual([...seen].sort(), [
      'DaemonSet floatip-agent as floatip-agent',
      'Deployment floatip-reconciler as floatip-reconciler',
      'Deployment floatip-webhook as floatip-webhook',
    ]);
  });

  test('a custom key given once reaches all three processes, the CEL matchConditions and the agent policy', () => {
    const key = 'example.com/public-ip';
    const text = renderChart({ key });
    assert.equal(text.includes('k8s.haim.dev/floating-ip\''), false, 'no CEL literal of the default key remains');
    assert.equal(text.includes('k8s.haim.dev/anchor-ipv4'), false, 'no default anchor annotation remains');
    const objects = parseManifests(text);
    for (const w of workloads(objects)) assert.ok(w.spec.template.spec.containers[0].args.includes(`--key=${key}`), w.metadata.name);
    const expressions = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].flatMap((kind) =>
      findManifest(objects, kind, 'floatip').webhooks.flatMap((h: { matchConditions: { expression: string }[] }) => h.matchConditions.map((m) => m.expression)),
    );
    assert.equal(expressions.length, 2);
    assert.match(expressions[0] ?? '', /^has\(object\.metadata\.annotations\) &&\s+'example\.com\/public-ip' in object\.metadata\.annotations$/);
    // pod metadata, spec.template.metadata and the CronJob's jobTemplate: annotation and label each
    assert.equal(expressions[1]?.match(/'example\.com\/public-ip' in /g)?.length, 6);
    const policy = findManifest(objects, 'ValidatingAdmissionPolicy', 'floatip-agent-node-annotation');
    assert.equal(policy.spec.variables.find((v: { name: string }) => v.name === 'key').expression, "'example.com/anchor-ipv4'");
  });

  test('a key without a prefix: the anchor annotation is anchor-ipv4, like the agent computes it', () => {
    const policy = findManifest(render({ key: 'floating-ip' }), 'ValidatingAdmissionPolicy', 'floatip-agent-node-annotation');
    assert.equal(policy.spec.variables.find((v: { name: string }) => v.name === 'key').expression, "'anchor-ipv4'");
  });

  test('cert-manager: a Certificate with a self-signed Issuer, CA injection, the Secret mounted, and no TLS RBAC for the webhook', () => {
    const objects = render({ webhook: { tls: { mode: 'cert-manager' } } });
    const cert = findManifest(objects, 'Certificate', 'floatip-webhook');
    assert.deepEqual(cert.spec.dnsNames, ['floatip-webhook.floatip-system.svc', 'floatip-webhook.floatip-system.svc.cluster.local']);
    assert.deepEqual([cert.spec.secretName, cert.spec.issuerRef], ['floatip-webhook-cert', { name: 'floatip-selfsigned', kind: 'Issuer' }]);
    assert.deepEqual(findManifest(objects, 'Issuer', 'floatip-selfsigned').spec, { selfSigned: {} });
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      assert.equal(findManifest(objects, kind, 'floatip').metadata.annotations['cert-manager.io/inject-ca-from'], 'floatip-system/floatip-webhook');
    }
    assert.deepEqual(kinds(objects).filter((k) => /floatip-webhook-(tls|cabundle)/.test(k)), []);
    const pod = findManifest(objects, 'Deployment', 'floatip-webhook').spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(pod.volumes, [{ name: 'tls', secret: { secretName: 'floatip-webhook-cert' } }]);
  });

  test('cert-manager with an issuerRef: no Issuer of our own', () => {
    const issuerRef = { name: 'company-ca', kind: 'ClusterIssuer' };
    const objects = render({ webhook: { tls: { mode: 'cert-manager', certManager: { issuerRef } } } });
    assert.deepEqual(findManifest(objects, 'Certificate', 'floatip-webhook').spec.issuerRef, issuerRef);
    assert.equal(objects.some((o) => o.kind === 'Issuer'), false);
  });

  test('dry run: the reconciler gets --dry-run and nothing else changes', () => {
    const args = (values: Record<string, unknown>) => findManifest(render(values), 'Deployment', 'floatip-reconciler').spec.template.spec.containers[0].args as string[];
    assert.deepEqual(args({ reconciler: { dryRun: true } }), [...args({}).slice(0, 4), '--dry-run', ...args({}).slice(4)]);
  });

  test('reconciler.namespaces: a Role per namespace grants what the ClusterRole grants otherwise; only nodes stay cluster-wide', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const clusterWide = findManifest(render(), 'ClusterRole', 'floatip-reconciler').rules as Rule[];
    assert.ok(clusterWide.some((r) => r.resources.includes('pods')));
    const withoutNodes = clusterWide.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== 'nodes') })).filter((r) => r.resources.length > 0);
    const objects = render({ reconciler: { namespaces: ['games', 'web'] } });
    assert.deepEqual(findManifest(objects, 'ClusterRole', 'floatip-reconciler').rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] }]);
    for (const ns of ['games', 'web']) {
      const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'floatip-reconciler' && o.metadata.namespace === ns);
      assert.deepEqual(role?.rules, withoutNodes);
      const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'floatip-reconciler' && o.metadata.namespace === ns);
      assert.deepEqual([binding?.roleRef.name, binding?.subjects], ['floatip-reconciler', [{ kind: 'ServiceAccount', name: 'floatip-reconciler', namespace: 'floatip-system' }]]);
    }
    assert.ok(findManifest(objects, 'Deployment', 'floatip-reconciler').spec.template.spec.containers[0].args.includes('--namespaces=games,web'));
  });

  test('heartbeat failover off: --no-heartbeat-failover, and no access to the node Leases', () => {
    const objects = render({ reconciler: { heartbeatFailover: false } });
    assert.deepEqual(kinds(objects).filter((k) => k.includes('kube-node-lease')), []);
    assert.ok(findManifest(objects, 'Deployment', 'floatip-reconciler').spec.template.spec.containers[0].args.includes('--no-heartbeat-failover'));
    const role = findManifest(render(), 'Role', 'floatip-reconciler-node-heartbeats');
    assert.deepEqual(role.rules, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list', 'watch'] }]);
  });

  test('the token: an existing Secret mounted as a file, default digital-ocean-token/token like do-floating-ip-k8s', () => {
    for (const [values, secret, key] of [
      [{}, 'digital-ocean-token', 'token'],
      [{ digitalocean: { tokenSecret: { name: 'do-api', key: 'api-token' } } }, 'do-api', 'api-token'],
    ] as const) {
      const pod = findManifest(render(values), 'Deployment', 'floatip-reconciler').spec.template.spec;
      assert.deepEqual(pod.volumes, [{ name: 'digitalocean-token', secret: { secretName: secret, items: [{ key, path: 'token' }] } }]);
      assert.equal(JSON.stringify(pod.containers[0].env).includes('secretKeyRef'), false, 'no token in the environment');
    }
  });

  test('ipPolicy: a ConfigMap both processes parse, mounted in each with --ip-policy-file and a checksum that rolls them', () => {
    const ipPolicy = { shop: ['104.248.100.100', '104.248.101.0/28'], '*': [] };
    for (const mode of ['self-managed', 'cert-manager']) {
      const objects = render({ ipPolicy, webhook: { tls: { mode } } });
      const file = findManifest(objects, 'ConfigMap', 'floatip-ip-policy').data['ip-policy.yaml'] as string;
      const policy = parseIpPolicy(file);
      assert.deepEqual([policy.allows('shop', '104.248.101.5'), policy.allows('shop', '104.248.102.1'), policy.allows('web', '104.248.100.100')], [true, false, false]);
      for (const name of ['floatip-webhook', 'floatip-reconciler']) {
        const template = findManifest(objects, 'Deployment', name).spec.template;
        const container = template.spec.containers[0];
        assert.ok(container.args.includes('--ip-policy-file=/etc/floatip/ip-policy/ip-policy.yaml'), `${name} ${mode}`);
        assert.deepEqual(container.volumeMounts.find((m: { name: string }) => m.name === 'ip-policy'), { name: 'ip-policy', mountPath: '/etc/floatip/ip-policy', readOnly: true });
        assert.deepEqual(template.spec.volumes.find((v: { name: string }) => v.name === 'ip-policy'), { name: 'ip-policy', configMap: { name: 'floatip-ip-policy' } });
        assert.match(template.metadata.annotations['checksum/ip-policy'], /^[0-9a-f]{64}$/);
      }
      const other = findManifest(render({ ipPolicy: { shop: ['104.248.100.101'] }, webhook: { tls: { mode } } }), 'Deployment', 'floatip-reconciler');
      assert.notEqual(other.spec.template.metadata.annotations['checksum/ip-policy'], findManifest(objects, 'Deployment', 'floatip-reconciler').spec.template.metadata.annotations['checksum/ip-policy']);
    }
    const defaults = render();
    assert.equal(defaults.some((o) => o.kind === 'ConfigMap'), false);
    assert.equal(JSON.stringify(defaults).includes('ip-policy'), false);
  });

  test('image pull credentials: Secret floatip-image-pull in the release namespace and the agent\'s (which the chart creates), used by every pod', () => {
    const config = '{"auths":{"registry.digitalocean.com":{"auth":"eDp5"}}}';
    const objects = render({ imagePullSecrets: [{ name: 'registry-mine' }], imagePullDockerConfigJson: config });
    const secrets = objects.filter((o) => o.kind === 'Secret');
    assert.deepEqual(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name} ${s.type}`), [
      'floatip-system/floatip-image-pull kubernetes.io/dockerconfigjson',
      'floatip-agent/floatip-image-pull kubernetes.io/dockerconfigjson',
    ]);
    for (const s of secrets) assert.equal(Buffer.from(s.data['.dockerconfigjson'], 'base64').toString('utf8'), config);
    for (const w of workloads(objects)) assert.deepEqual(w.spec.template.spec.imagePullSecrets, [{ name: 'registry-mine' }, { name: 'floatip-image-pull' }], w.metadata.name);
    // without credentials: no Secret, and only the listed names
    const plain = render({ imagePullSecrets: [{ name: 'registry-mine' }] });
    assert.deepEqual(plain.filter((o) => o.kind === 'Secret'), []);
    for (const w of workloads(plain)) assert.deepEqual(w.spec.template.spec.imagePullSecrets, [{ name: 'registry-mine' }], w.metadata.name);
    for (const w of workloads(render())) assert.equal(w.spec.template.spec.imagePullSecrets, undefined, w.metadata.name);
  });

  test('agent.affinity reaches the DaemonSet (none by default)', () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'NotIn', values: ['batch'] }] }] } } };
    assert.deepEqual(findManifest(render({ agent: { affinity } }), 'DaemonSet', 'floatip-agent').spec.template.spec.affinity, affinity);
    assert.equal(findManifest(render(), 'DaemonSet', 'floatip-agent').spec.template.spec.affinity, undefined);
  });

  test('namespace.create renders the release namespace with Pod Security restricted', () => {
    assert.equal(render().some((o) => o.kind === 'Namespace' && o.metadata.name === 'floatip-system'), false);
    const ns = findManifest(render({ namespace: { create: true } }), 'Namespace', 'floatip-system');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  test('the agent cannot share the restricted release namespace', () => {
    const r = runHelm(['template', 'floatip', CHART_DIR, '--namespace', 'floatip-system', '--set', 'agent.namespace=floatip-system']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /agent\.namespace must differ from the release namespace floatip-system: the agent needs hostNetwork/);
  });
});

describe('values.schema.json: a bad value fails with a message naming it', () => {
  const cases: [string, string[], string][] = [
    ['a typo in a value name', ['--set', 'reconciler.coolOf=5s'], "- at '/reconciler': additional properties 'coolOf' not allowed"],
    ['an unknown TLS mode', ['--set', 'webhook.tls.mode=certmanager'], "- at '/webhook/tls/mode': value must be one of 'self-managed', 'cert-manager'"],
    ['a duration without a unit', ['--set', 'reconciler.coolOff=10'], "- at '/reconciler/coolOff': got number, want string"],
    ['a key that is not a label key', ['--set-string', "key=k8s.haim.dev/it's"], "- at '/key': 'k8s.haim.dev/it\\'s' does not match pattern"],
    ['a failover bound that is no histogram bucket', ['--set', 'prometheusRule.failoverSlowSeconds=7'], "- at '/prometheusRule/failoverSlowSeconds': value must be one of 1, 2, 5, 10, 30, 60"],
    ['a namespace name with capitals', ['--set', 'reconciler.namespaces={Games}'], "- at '/reconciler/namespaces/0': 'Games' does not match pattern"],
    ['an IP policy for a namespace name with capitals', ['--set', 'ipPolicy.Shop={104.248.100.100}'], "- at '/ipPolicy': additional properties 'Shop' not allowed"],
    ['an IP policy entry that is no address', ['--set', 'ipPolicy.shop={www.example.com}'], "- at '/ipPolicy/shop/0': 'www.example.com' does not match pattern"],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const r = runHelm(['template', 'floatip', CHART_DIR, '--namespace', 'floatip-system', ...args]);
      assert.notEqual(r.status, 0, 'helm accepted the bad value');
      assert.match(r.stderr, /^Error: values don't meet the specifications of the schema\(s\) in the following chart\(s\):\nfloatip:\n/);
      assert.ok(r.stderr.includes(message), `expected "${message}" in:\n${r.stderr}`);
    });
  }
});

describe('monitoring values', () => {
  const monitoring = { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, grafanaDashboard: { enabled: true } };
  type Alert = { alert: string; expr: string; annotations: Record<string, string> };
  const alertsOf = (objects: readonly Manifest[]) =>
    (findManifest(objects, 'PrometheusRule', 'floatip').spec.groups as { rules: Alert[] }[]).flatMap((g) => g.rules);

  test('every alert has a runbook section in docs/runbooks.md, and every section an alert', () => {
    const alerts = alertsOf(render(monitoring));
    const headings = [...readFileSync(join(REPO_ROOT, 'docs/runbooks.md'), 'utf8').matchAll(/^## (Floatip\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(alerts.map((a) => a.alert).sort(), [...headings].sort());
    for (const a of alerts) assert.equal(a.annotations['runbook'], `docs/runbooks.md#${a.alert.toLowerCase()}`);
  });

  test('FloatipLeaderFlapping: the summary names the threshold the expression uses (and the runbook)', () => {
    const flapping = alertsOf(render(monitoring)).find((a) => a.alert === 'FloatipLeaderFlapping');
    const threshold = /> (\d+)$/.exec(flapping?.expr ?? '')?.[1];
    assert.ok(threshold, flapping?.expr);
    assert.ok(flapping?.annotations['summary']?.includes(`more than ${threshold} times`), flapping?.annotations['summary']);
    assert.ok(readFileSync(join(REPO_ROOT, 'docs/runbooks.md'), 'utf8').includes(`changed more than ${threshold} times in 30 minutes`));
  });

  test('persistent refusals, exposure errors, the heartbeat guard and the agent have alerts; the agent\'s only with the agent', () => {
    const alerts = alertsOf(render({ ...monitoring, prometheusRule: { enabled: true, assignRefusedFor: '20m' } }));
    const names = alerts.map((a) => a.alert);
    for (const name of ['FloatipAssignRefused', 'FloatipExposureErrors', 'FloatipHeartbeatGuard', 'FloatipAgentUnavailable']) assert.ok(names.includes(name), name);
    const refused = alerts.find((a) => a.alert === 'FloatipAssignRefused') as Alert & { for: string };
    assert.equal(refused.for, '20m');
    assert.match(refused.expr, /code=~"401\|403"/);
    assert.match(refused.expr, /code="422"/);
    assert.ok(!alertsOf(render({ ...monitoring, agent: { enabled: false } })).some((a) => a.alert === 'FloatipAgentUnavailable'));
  });

  test('every failoverSlowSeconds the schema allows is a bucket bound of floatip_failover_duration_seconds', async () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as { properties: { prometheusRule: { properties: { failoverSlowSeconds: { enum: number[] } } } } };
    const allowed = schema.properties.prometheusRule.properties.failoverSlowSeconds.enum;
    const metrics = createReconcilerMetrics();
    metrics.failoverSeconds.observe({ family: '4' }, 0.05);
    const text = await metrics.registry.metrics();
    for (const bound of allowed) {
      assert.ok(text.includes(`floatip_failover_duration_seconds_bucket{le="${bound}",family="4"}`), `no bucket le="${bound}"`);
      const slow = alertsOf(render({ prometheusRule: { enabled: true, failoverSlowSeconds: bound } })).find((a) => a.alert === 'FloatipFailoverSlow');
      assert.ok(slow?.expr.includes(`floatip_failover_duration_seconds_bucket{le="${bound}"}`), slow?.expr);
    }
  });

  test('the dashboard ConfigMap carries dashboards/floatip.json unchanged; every query uses the datasource variable', () => {
    const file = readFileSync(join(CHART_DIR, 'dashboards/floatip.json'), 'utf8');
    const configMap = findManifest(render({ grafanaDashboard: { enabled: true, namespace: 'monitoring' } }), 'ConfigMap', 'floatip-dashboard');
    assert.equal(configMap.metadata.namespace, 'monitoring');
    assert.equal(configMap.metadata.labels['grafana_dashboard'], '1');
    assert.equal(configMap['data']['floatip.json'], file.trimEnd());
    const dashboard = JSON.parse(file) as { uid: string; panels: { id: number; type: string; targets?: { datasource: { uid: string }; expr: string }[] }[] };
    assert.equal(dashboard.uid, 'floatip');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const targets = dashboard.panels.flatMap((p) => p.targets ?? []);
    assert.ok(targets.length >= 20);
    for (const t of targets) assert.equal(t.datasource.uid, '${datasource}', t.expr);
  });

  test('the webhook is scraped over HTTPS with the CA of the TLS mode in use', () => {
    for (const [mode, secret] of [['self-managed', 'floatip-webhook-tls'], ['cert-manager', 'floatip-webhook-cert']] as const) {
      const monitor = findManifest(render({ ...monitoring, webhook: { tls: { mode } } }), 'ServiceMonitor', 'floatip-webhook');
      assert.deepEqual(monitor.spec.endpoints[0].tlsConfig, { serverName: 'floatip-webhook.floatip-system.svc', ca: { secret: { name: secret, key: 'ca.crt' } } });
    }
  });
});
