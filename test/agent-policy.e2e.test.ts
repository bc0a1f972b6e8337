// The node agent's manifests and least privilege on the real API server: the DaemonSet runs
// in its own namespace (floatip-system's Pod Security "restricted" refuses hostNetwork), an
// agent process per node records its droplet's anchor IPv4 from the emulator's metadata
// service, and the ValidatingAdmissionPolicy denies the agent's service account every node
// change but that annotation on its own node (exact messages).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from './cluster/harness.ts';
import type { ControlPlane } from './cluster/harness.ts';
import { startEmulator } from './do-emulator/server.ts';
import type { RunningEmulator } from './do-emulator/server.ts';
import { readManifests } from './cluster/manifests.ts';
import { AGENT_NS, AGENT_SA, agentCredentials, agentPodOn, applyAgentManifests, metadataUrlOf, spawnAgent } from './agent-fixture.ts';
import type { AgentProcess } from './agent-fixture.ts';

const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';
const POLICY = "ValidatingAdmissionPolicy 'floatip-agent-node-annotation' with binding 'floatip-agent-node-annotation' denied request";
const NODES = [
  { name: 'pool-a-1', dropletId: 1001, anchor: '10.20.0.11' },
  { name: 'pool-a-2', dropletId: 1002, anchor: '10.20.0.12' },
];

/** A loopback port nothing listens on (found free, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function apiMessage(err: unknown): string {
  if (!(err instanceof ApiException)) throw err;
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return `${err.code} ${(body as { message?: string }).message ?? String(err.body)}`;
}

describe('floatip agent: manifests, anchor annotation and policy', () => {
  let cp: ControlPlane;
  let emulator: RunningEmulator;
  let core: CoreV1Api;
  const agents: AgentProcess[] = [];

  before(async () => {
    [cp, emulator] = await Promise.all([startControlPlane(), startEmulator({})]);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await applyAgentManifests(cp);
    await Promise.all(NODES.map((n) => cp.addNode(n.name, { dropletId: n.dropletId })));
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await emulator?.close();
    await cp?.stop();
  });

  const mergePatch = (kc: KubeConfig, name: string, body: object) =>
    kc.makeApiClient(CoreV1Api).patchNode({ name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const denied = (call: Promise<unknown>) =>
    call.then(
      () => assert.fail('the API server accepted the change'),
      (err: unknown) => apiMessage(err),
    );

  test('the DaemonSet runs a pod per node in floatip-agent; floatip-system would refuse it', async () => {
    const pods = await Promise.all(NODES.map((n) => agentPodOn(core, n.name)));
    assert.deepEqual(pods.map((p) => [p.spec?.serviceAccountName, p.spec?.hostNetwork]), NODES.map(() => [AGENT_SA, true]));
    const container = pods[0]?.spec?.containers[0];
    // node, the chart's flags (test/chart-footprint.test.ts), the entry point
    assert.equal(container?.command?.[0], 'node');
    assert.equal(container?.command?.at(-1), 'dist/agent/main.js');
    assert.deepEqual(container?.args?.slice(0, 2), ['--node-name=$(NODE_NAME)', '--metadata-url=http://169.254.169.254']);

    // the same pod template, submitted to the restricted namespace
    const daemonSet = (await readManifests('deploy/manifests/agent.yaml')).find((o) => o.kind === 'DaemonSet') as { spec: { template: V1Pod } };
    const probe: V1Pod = { ...daemonSet.spec.template, metadata: { ...daemonSet.spec.template.metadata, name: 'agent-probe' } };
    probe.spec = { ...probe.spec, serviceAccountName: 'default', containers: probe.spec?.containers ?? [] };
    const refused = await denied(core.createNamespacedPod({ namespace: 'floatip-system', body: probe, dryRun: 'All' }));
    assert.equal(refused, '403 pods "agent-probe" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), hostPort (container "agent" uses hostPort 9406)');
  });

  test('one agent process per node records its anchor IPv4 and keeps running', async () => {
    for (const n of NODES) {
      const { yaml } = await agentCredentials(cp, n.name);
      agents.push(await spawnAgent({ nodeName: n.name, metadataUrl: metadataUrlOf(emulator.url, n.dropletId), kubeconfigYaml: yaml }));
    }
    for (const n of NODES) {
      await waitFor(`${ANCHOR_KEY} on ${n.name}`, async () => (await core.readNode({ name: n.name })).metadata?.annotations?.[ANCHOR_KEY] === n.anchor);
    }
    for (const [i, agent] of agents.entries()) {
      const recorded = await waitFor('the log line', async () => agent.lines.find((l) => l['msg'] === 'anchor IPv4 recorded on the node'));
      assert.deepEqual([recorded['node'], recorded['anchor'], recorded['annotation']], [NODES[i]?.name, NODES[i]?.anchor, ANCHOR_KEY]);
      assert.equal(agent.lines.filter((l) => l['level'] === 'error' || l['level'] === 'fatal').length, 0, JSON.stringify(agent.lines));
    }

    // someone removes the annotation: the next check (here --interval 200ms) writes it back
    const quick = await spawnAgent({
      nodeName: 'pool-a-1',
      metadataUrl: metadataUrlOf(emulator.url, 1001),
      kubeconfigYaml: (await agentCredentials(cp, 'pool-a-1')).yaml,
      args: ['--interval', '200ms'],
    });
    agents.push(quick);
    await waitFor('the quick agent to start checking', async () => quick.lines.some((l) => String(l['msg']).startsWith('anchor IPv4')));
    await mergePatch(cp.kubeConfig, 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: null } } });
    await waitFor('the annotation restored', async () => (await core.readNode({ name: 'pool-a-1' })).metadata?.annotations?.[ANCHOR_KEY] === '10.20.0.11');
    assert.equal(await quick.stop(), 0, 'SIGTERM exits 0');
    assert.deepEqual(agents.slice(0, NODES.length).map((a) => a.exitCode()), NODES.map(() => null), 'the agents keep running between checks');
  });

  test('metadata service unreachable: one clear fatal line and exit 1', async () => {
    const port = await closedPort();
    const agent = await spawnAgent({ nodeName: 'pool-a-1', metadataUrl: `http://127.0.0.1:${port}`, kubeconfigYaml: (await agentCredentials(cp, 'pool-a-1')).yaml });
    assert.equal(await agent.exited, 1);
    const fatal = agent.lines.filter((l) => l['level'] === 'fatal');
    assert.deepEqual(
      fatal.map((l) => [l['msg'], l['problem']]),
      [[`metadata service unreachable at http://127.0.0.1:${port}/metadata/v1/interfaces/public/0/anchor_ipv4/address: ECONNREFUSED`, 'unreachable']],
    );
  });

  test("the policy: the agent's account may change only the anchor annotation of the node its token is bound to", async () => {
    const { kubeConfig: agent1 } = await agentCredentials(cp, 'pool-a-1');
    // allowed: its own node's annotation (to an IPv4 address)
    await mergePatch(agent1, 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: '10.20.0.11' } } });

    const rows: [string, string, object, number, string][] = [
      ['another node', 'pool-a-2', { metadata: { annotations: { [ANCHOR_KEY]: '10.20.0.11' } } }, 403, 'the floatip agent on node pool-a-1 may not change node pool-a-2'],
      ['a label', 'pool-a-1', { metadata: { labels: { 'node-role.kubernetes.io/ingress': '' } } }, 403, `the floatip agent may only change annotation ${ANCHOR_KEY} of node pool-a-1`],
      ['another annotation', 'pool-a-1', { metadata: { annotations: { 'example.com/x': 'y' } } }, 403, `the floatip agent may only change annotation ${ANCHOR_KEY} of node pool-a-1`],
      ['the spec', 'pool-a-1', { spec: { unschedulable: true } }, 403, `the floatip agent may only change annotation ${ANCHOR_KEY} of node pool-a-1`],
      ['a taint', 'pool-a-1', { spec: { taints: [{ key: 'x', effect: 'NoSchedule' }] } }, 403, `the floatip agent may only change annotation ${ANCHOR_KEY} of node pool-a-1`],
      ['not an IPv4', 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: '2604:a880:800:14::1000' } } }, 422, `annotation ${ANCHOR_KEY} must be an IPv4 address in the droplet anchor range 10.20.0.0/16`],
      // an anchor is an anchor (issue 15): the reconciler would put it in Services' externalIPs
      ['a public address', 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: '8.8.8.8' } } }, 422, `annotation ${ANCHOR_KEY} must be an IPv4 address in the droplet anchor range 10.20.0.0/16`],
      ['loopback', 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: '127.0.0.1' } } }, 422, `annotation ${ANCHOR_KEY} must be an IPv4 address in the droplet anchor range 10.20.0.0/16`],
    ];
    for (const [what, node, patch, code, message] of rows) {
      assert.equal(await denied(mergePatch(agent1, node, patch)), `${code} nodes "${node}" is forbidden: ${POLICY}: ${message}`, what);
    }

    // a token of the same account that is not bound to a pod carries no node name
    const unbound = await cp.kubeConfigForServiceAccount(AGENT_NS, AGENT_SA);
    assert.equal(
      await denied(mergePatch(unbound, 'pool-a-1', { metadata: { annotations: { [ANCHOR_KEY]: '10.20.0.11' } } })),
      `403 nodes "pool-a-1" is forbidden: ${POLICY}: the floatip agent's token is not bound to a pod on a node; run it from the DaemonSet (projected service-account token)`,
    );
    // everyone else is outside the policy: an administrator labels the node
    await mergePatch(cp.kubeConfig, 'pool-a-1', { metadata: { labels: { 'example.com/admin': 'yes' } } });
    const node = await core.readNode({ name: 'pool-a-1' });
    assert.equal(node.metadata?.labels?.['example.com/admin'], 'yes');
    assert.equal(node.spec?.unschedulable, undefined);
  });
});
