// Least privilege between tenants (issue 15) on the whole chain: the real API server, the
// webhook, scheduler and kwok nodes, the DigitalOcean emulator, and the reconciler in-process
// as its own service account. Two tenants, namespaces shop and other, no --ip-policy-file:
// - an annotation added to an old running pod of `other` does not take shop's IP, across a
//   reconciler restart too (claims follow time, not age);
// - the firewall opens only what Services exposing a won IP need: nothing for a selector-less
//   Service or one whose pods hold no IP, never 10250/2379/22 by default, a restricted port
//   stays restricted when another namespace's Service names it, and a 60-port Service is
//   refused with a Warning while another Service's port still reaches DigitalOcean;
// - a node anchor of 8.8.8.8 or 127.0.0.1 never reaches a Service (Warning on the Node).
// (The agent's own credentials cannot write such an anchor: test/agent-policy.e2e.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import type { CoreV1Event, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import { DEFAULT_CLUSTER_ID } from './do-emulator/world.ts';
import { isServing, keys, nodeOf, patchNode, startReconcilerWorld } from './reconciler-fixture.ts';
import type { ReconcilerWorld } from './reconciler-fixture.ts';
import type { RunningReconciler } from '../reconciler/main.ts';

const SHOP_IP = '104.248.100.100';
const OTHER_IP = '104.248.100.101';
const CLASS = 'k8s.haim.dev/floating-ip';
const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';
const FIREWALL = `floatip-${DEFAULT_CLUSTER_ID}`;
const EVERYWHERE = ['0.0.0.0/0', '::/0'];
const anchorOf = (dropletId: number) => `10.20.0.${dropletId - 990}`; // 1001 → 10.20.0.11

interface StateRule {
  protocol: string;
  ports: string;
  sources: { addresses?: string[] };
}

/** A one-replica Deployment claiming `ip`, pinned to one node. */
function pinnedDeployment(namespace: string, name: string, ip: string, node: string): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { [keys.annotation]: ip } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
        },
      },
    },
  };
}

function service(namespace: string, name: string, app: string | undefined, ports: [string, number][], sourceRanges?: string[]): V1Service {
  return {
    metadata: { name, namespace },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: CLASS,
      allocateLoadBalancerNodePorts: false,
      ...(app ? { selector: { app } } : {}),
      ...(sourceRanges ? { loadBalancerSourceRanges: sourceRanges } : {}),
      ports: ports.map(([protocol, port]) => ({ name: `p${protocol.toLowerCase()}${port}`, protocol, port })),
    },
  };
}

describe('least privilege between tenants on the real control plane', () => {
  let world: ReconcilerWorld;
  let leader: RunningReconciler;

  const rulesOf = async (): Promise<StateRule[] | undefined> => {
    const state = (await (await fetch(`${world.emulator.url}/_emulator/state`)).json()) as { firewalls: { name: string; inbound_rules: StateRule[] }[] };
    return state.firewalls.find((f) => f.name === FIREWALL)?.inbound_rules;
  };
  const ruleText = (rules: StateRule[] | undefined) => (rules ?? []).map((r) => `${r.protocol}/${r.ports} ${(r.sources.addresses ?? []).join(',')}`).sort();
  const eventsOn = async (namespace: string, kind: string, name: string): Promise<CoreV1Event[]> =>
    (await world.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` })).items.filter((e) => e.source?.component === 'floatip-reconciler');
  const warningsOn = async (namespace: string, kind: string, name: string) => (await eventsOn(namespace, kind, name)).filter((e) => e.type === 'Warning').map((e) => [e.reason, e.message]);
  const serving = (namespace: string, app: string) =>
    waitFor(`${namespace}/${app} serving`, async () => {
      const pods = (await world.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
      return pods.length === 1 && pods.every(isServing) ? (pods[0] as V1Pod) : undefined;
    });
  /** creationTimestamp has second resolution: wait until the next second starts */
  const nextSecond = async () => {
    const now = Math.floor(Date.now() / 1000);
    await waitFor('the next second', async () => Math.floor(Date.now() / 1000) > now, { intervalMs: 20 });
  };
  const startLeader = async (name: string) => {
    const replica = await world.startReplica(name);
    await waitFor(`${name} to lead`, async () => replica.running.isLeader());
    return replica.running;
  };

  before(async () => {
    world = await startReconcilerWorld();
    for (const ns of ['shop', 'other']) {
      await world.core.createNamespace({ body: { metadata: { name: ns } } });
      // pods are admitted once the controller-manager has made the namespace's default account
      await waitFor(`serviceaccount ${ns}/default`, async () => (await world.core.listNamespacedServiceAccount({ namespace: ns })).items.some((a) => a.metadata?.name === 'default'));
    }
    // the agents' part, by hand: every node's anchor
    for (const id of [1001, 1002, 1003]) await patchNode(world.core, nodeOf(id), { metadata: { annotations: { [ANCHOR_KEY]: anchorOf(id) } } });
    leader = await startLeader('tenants-0');
  });
  after(() => world?.stop());

  test('an annotation added to an old running pod in another namespace does not take the IP, also across a reconciler restart', async () => {
    // other/old: a plain pod, running long before shop's workload exists
    await world.core.createNamespacedPod({
      namespace: 'other',
      body: {
        metadata: { name: 'old', labels: { app: 'old' } },
        spec: { nodeName: nodeOf(1003), containers: [{ name: 'app', image: 'registry.invalid/app:1' }], automountServiceAccountToken: false, terminationGracePeriodSeconds: 0 },
      },
    });
    await waitFor('other/old running', async () => isServing(await world.core.readNamespacedPod({ namespace: 'other', name: 'old' })));
    await nextSecond();
    await world.apps.createNamespacedDeployment({ namespace: 'shop', body: pinnedDeployment('shop', 'web', SHOP_IP, nodeOf(1001)) });
    await serving('shop', 'web');
    await waitFor(`${SHOP_IP} on shop's droplet 1001`, async () => (await world.admin.holder(SHOP_IP)) === 1001);
    await world.admin.clearRequests();

    // the tenant of `other` annotates (and labels, as the webhook would) its old pod
    const edited = Date.now();
    await world.core.patchNamespacedPod(
      { namespace: 'other', name: 'old', body: { metadata: { annotations: { [keys.annotation]: SHOP_IP }, labels: { [keys.label]: 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const [conflict] = await waitFor('the conflict Warning on other/old', async () => {
      const found = (await warningsOn('other', 'Pod', 'old')).filter(([reason]) => reason === 'FloatingIPConflict');
      return found.length > 0 ? found : undefined;
    });
    assert.match(String(conflict?.[1]), /also claimed by shop\/web-[a-z0-9-]+, which holds it and keeps it while it has an eligible pod/);
    for (let i = 0; i < 3; i++) await leader.controller.resyncNow();
    assert.equal(await world.admin.holder(SHOP_IP), 1001, 'the holder keeps it');
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST' && r.path.includes(SHOP_IP));
    assert.deepEqual(posts, [], `no move of ${SHOP_IP} since the edit ${Date.now() - edited} ms ago`);

    // a new leader: nothing remembered, only DigitalOcean's holder and the pods
    await leader.stop();
    leader = await startLeader('tenants-1');
    for (let i = 0; i < 3; i++) await leader.controller.resyncNow();
    assert.equal(await world.admin.holder(SHOP_IP), 1001, 'the holder keeps it across a restart');
    assert.deepEqual((await world.admin.requests()).filter((r) => r.method === 'POST' && r.path.includes(SHOP_IP)), []);
  });

  test('the firewall opens what Services exposing a won IP need, and no more', async () => {
    await world.admin.clearRequests();
    // shop/web exposes SHOP_IP (held by its pod), restricts its ports, and asks for 10250/2379/22 too
    await world.core.createNamespacedService({ namespace: 'shop', body: service('shop', 'web', 'web', [['TCP', 8443], ['TCP', 10250], ['TCP', 2379], ['TCP', 22]], ['203.0.113.0/24']) });
    // other: a selector-less Service (the escalation), and one selecting the pod that holds nothing
    await world.core.createNamespacedService({ namespace: 'other', body: service('other', 'bare', undefined, [['TCP', 10250], ['TCP', 2379], ['TCP', 22], ['UDP', 53], ['TCP', 9000]]) });
    await world.core.createNamespacedService({ namespace: 'other', body: service('other', 'loser', 'old', [['TCP', 9001]]) });
    await nextSecond();
    // other also wins an IP of its own, and names shop's restricted port without ranges
    await world.apps.createNamespacedDeployment({ namespace: 'other', body: pinnedDeployment('other', 'ow', OTHER_IP, nodeOf(1002)) });
    await serving('other', 'ow');
    await waitFor(`${OTHER_IP} on 1002`, async () => (await world.admin.holder(OTHER_IP)) === 1002);
    await world.core.createNamespacedService({ namespace: 'other', body: service('other', 'wide', 'ow', [['TCP', 8443], ['TCP', 9002]]) });

    const want = ['tcp/8443 203.0.113.0/24', `tcp/9002 ${EVERYWHERE.join(',')}`];
    await waitFor('the firewall: shop\'s 8443 restricted, other\'s 9002 open, nothing else', async () => ruleText(await rulesOf()).join('|') === want.join('|'), { timeoutMs: 20_000 });
    await waitFor('the Warnings', async () => (await warningsOn('other', 'Service', 'wide')).some(([r]) => r === 'FloatingIPSourceRangesConflict'));
    assert.deepEqual(
      (await warningsOn('shop', 'Service', 'web')).filter(([r]) => r === 'FloatingIPPortNotAllowed'),
      [['FloatingIPPortNotAllowed', "not opened in floatip's DigitalOcean firewall (it would open them on every worker node): tcp/10250 is the kubelet API, never opened unless the operator lifts it (--firewall-allowed-ports), tcp/2379 is etcd, never opened unless the operator lifts it (--firewall-allowed-ports), tcp/22 is SSH, never opened unless the operator lifts it (--firewall-allowed-ports)"]],
    );
    const [wide] = (await warningsOn('other', 'Service', 'wide')).filter(([r]) => r === 'FloatingIPSourceRangesConflict');
    assert.doesNotMatch(String(wide?.[1]), /shop|203\.0\.113/, "the Warning in `other` names neither shop's Service nor its ranges");
    // every firewall body ever sent kept 8443 restricted, and never carried 10250, 2379 or 22
    const bodies = (await world.admin.requests()).filter((r) => /\/v2\/firewalls/.test(r.path) && (r.method === 'POST' || r.method === 'PUT'));
    assert.ok(bodies.length > 0);
    for (const r of bodies) {
      const inbound = ((r.body as { inbound_rules?: StateRule[] }).inbound_rules ?? []).map((x) => `${x.protocol}/${x.ports} ${(x.sources.addresses ?? []).join(',')}`);
      assert.ok(inbound.every((x) => !x.startsWith('tcp/8443 ') || x === 'tcp/8443 203.0.113.0/24'), `8443 restricted in ${JSON.stringify(inbound)}`);
      assert.ok(inbound.every((x) => !/^(tcp|udp)\/(10250|2379|22|9000|9001|53) /.test(x)), `no forbidden or unexposed port in ${JSON.stringify(inbound)}`);
    }
    for (const name of ['bare', 'loser']) assert.deepEqual((await warningsOn('other', 'Service', name)).filter(([r]) => r !== undefined && r.startsWith('FloatingIPFirewall') || r === 'FloatingIPPortNotAllowed'), [], `${name} is simply not exposing: no firewall Warning`);
  });

  test("a 60-port Service is refused with a Warning and does not stop another Service's port from reaching the firewall", async () => {
    const ports = Array.from({ length: 60 }, (_, i): [string, number] => ['TCP', 20_000 + 2 * i]);
    await world.core.createNamespacedService({ namespace: 'other', body: service('other', 'big', 'ow', ports) });
    await waitFor('the Warning on other/big', async () => (await warningsOn('other', 'Service', 'big')).some(([r]) => r === 'FloatingIPFirewallFull'), { timeoutMs: 20_000 });
    await nextSecond();
    const added = Date.now();
    await world.core.createNamespacedService({ namespace: 'shop', body: service('shop', 'late', 'web', [['TCP', 9443]]) });
    await waitFor('tcp/9443 in the firewall', async () => ruleText(await rulesOf()).includes(`tcp/9443 ${EVERYWHERE.join(',')}`), { timeoutMs: 20_000 });
    console.error(`# tcp/9443 reached the firewall ${Date.now() - added} ms after its Service, next to a refused 60-port Service`);
    const [full] = (await warningsOn('other', 'Service', 'big')).filter(([r]) => r === 'FloatingIPFirewallFull');
    assert.match(String(full?.[1]), /^ports tcp\/20000, .* not opened: floatip's DigitalOcean firewall would need 6\d rules and DigitalOcean allows 50/); // 60 of its own beside the others' (how many depends on what the earlier tests left)
    assert.ok(ruleText(await rulesOf()).every((r) => !r.startsWith('tcp/200') && !r.startsWith('tcp/201')), 'none of its ports');
    const refused = (await world.admin.requests()).filter((r) => /\/v2\/firewalls/.test(r.path) && r.status === 422);
    assert.deepEqual(refused, [], 'nothing DigitalOcean refuses was ever sent');
  });

  test('a node anchor of 8.8.8.8 or 127.0.0.1 is never written to a Service; a Warning on the Node says so', async () => {
    const seen: string[][] = [];
    const watch = await new Watch(world.cp.kubeConfig).watch(
      '/api/v1/namespaces/shop/services',
      { fieldSelector: 'metadata.name=web' },
      (_phase: string, svc: V1Service) => void seen.push(svc.spec?.externalIPs ?? []),
      () => undefined,
    );
    try {
      await waitFor("shop/web's externalIPs: the anchor of its holder", async () => seen.at(-1)?.join() === anchorOf(1001));
      for (const bad of ['8.8.8.8', '127.0.0.1']) {
        await patchNode(world.core, nodeOf(1001), { metadata: { annotations: { [ANCHOR_KEY]: bad } } });
        const warning = await waitFor(`the Warning on node ${nodeOf(1001)} for ${bad}`, async () =>
          (await eventsOn('default', 'Node', nodeOf(1001))).find((e) => e.reason === 'FloatingIPInvalidAnchor' && e.message?.includes(`"${bad}"`)),
        );
        assert.equal(warning.message, `annotation ${ANCHOR_KEY} ignored: "${bad}" is not in the droplet anchor range 10.20.0.0/16; floatip never puts it in a Service's externalIPs (is something other than the floatip agent writing it?)`);
        for (let i = 0; i < 2; i++) await leader.controller.resyncNow();
      }
      await patchNode(world.core, nodeOf(1001), { metadata: { annotations: { [ANCHOR_KEY]: anchorOf(1001) } } });
      const svc = await world.core.readNamespacedService({ namespace: 'shop', name: 'web' });
      assert.deepEqual(svc.spec?.externalIPs, [anchorOf(1001)], 'the last good anchor stayed in place');
      assert.ok(seen.every((ips) => !ips.includes('8.8.8.8') && !ips.includes('127.0.0.1')), `never written: ${JSON.stringify(seen)}`);
    } finally {
      watch.abort();
    }
  });
});
