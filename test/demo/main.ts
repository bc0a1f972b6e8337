// `npm run demo`: floatip end to end on one machine, with no DigitalOcean account.
// A real kube-apiserver, controller-manager, scheduler and kwok nodes (test/cluster), the
// DigitalOcean emulator (test/do-emulator), the admission webhook and the reconciler (as its
// own service account with the RBAC from deploy/). It tells a short story and ends with
//   demo ok: failover <seconds> s; silent droplet: IP moved after <s> s, node NotReady after <s> s
// the first measured from the node deletion to the completed DigitalOcean assign action, the
// others from the instant the next holder's kubelet fell silent (a droplet that dies).
import { performance } from 'node:perf_hooks';
import { ApiException, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { readyStatus, registerWebhooks, startControlPlane, waitFor } from '../cluster/harness.ts';
import type { ControlPlane } from '../cluster/harness.ts';
import { startEmulator } from '../do-emulator/server.ts';
import { captureLogs, emulatorAdmin, servingPods } from '../reconciler-fixture.ts';
import type { EmulatorAdmin } from '../reconciler-fixture.ts';
import type { RunningEmulator } from '../do-emulator/server.ts';
import { createLogger } from '../../shared/logger.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { startWebhookServer } from '../../webhook/server.ts';
import type { RunningWebhookServer } from '../../webhook/server.ts';
import { generateLoopbackTls } from '../../webhook/tls/certs.ts';
import { parseConfig } from '../../reconciler/config.ts';
import { startReconciler } from '../../reconciler/main.ts';
import type { RunningReconciler } from '../../reconciler/main.ts';
import { applyAgentManifests, startAgents } from '../agent-fixture.ts';
import type { AgentProcess } from '../agent-fixture.ts';
import { DEFAULT_CLUSTER_ID } from '../do-emulator/world.ts';
import { firewallLines, gameService, kubectlGetSvc, serviceShowing, watchExternalIPs } from './traffic.ts';
import { startPacketView } from './packets.ts';
import { netnsUnavailable } from '../dataplane/netns.ts';
import { PACKET_ACTION_DELAY_MS } from '../dataplane/world.ts';
import type { PacketView } from './packets.ts';

const IP = '104.248.100.100';
const NAMESPACE = 'floatip-system';
const NODES = [
  { name: 'pool-a-1', dropletId: 1001 },
  { name: 'pool-a-2', dropletId: 1002 },
  { name: 'pool-a-3', dropletId: 1003 },
];
const keys = floatingIpKeys();
const started = performance.now();
const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';
/** the anchor the metadata service of the emulator's droplet reports (agents record it) */
const anchors = new Map<number, string>();
const anchorOf = (dropletId: number) => anchors.get(dropletId) ?? `(no anchor for droplet ${dropletId})`;

const say = (text: string) => console.log(text);
const detail = (text: string) => console.log(`    ${text}`);
const elapsed = (from: number) => ((performance.now() - from) / 1000).toFixed(2);

function deployment(name: string, annotation: string): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { [keys.annotation]: annotation } },
        spec: {
          // one replica per node, so losing a node leaves a ready pod elsewhere
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
          containers: [{ name: 'gameserver', image: 'registry.invalid/gameserver:1', ports: [{ containerPort: 7777, protocol: 'UDP' }] }],
        },
      },
    },
  };
}

function apiMessage(err: unknown): string {
  if (!(err instanceof ApiException)) throw err;
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return (body as { message?: string }).message ?? String(err.body);
}

/**
 * Step 6: the holder's droplet dies silently (partitionNode: its kubelet stops heartbeating,
 * the node keeps showing Ready until the node controller's grace period is over). Times the
 * move of the IP and the node controller's NotReady from the same instant.
 */
async function silentDroplet(w: {
  cp: ControlPlane;
  core: CoreV1Api;
  admin: EmulatorAdmin;
  holderId: number;
  deletedNode: string;
  attachedLine: (count: number) => Promise<string>;
  packets: PacketView | undefined;
}): Promise<{ movedS: number; notReadyS: number }> {
  const { cp, core, holderId } = w;
  const node = NODES.find((n) => n.dropletId === holderId);
  if (!node) throw new Error(`${IP} is on droplet ${holderId}, which is no node of this cluster`);
  const graceS = cp.timing.nodeMonitorGracePeriodMs / 1000;
  say(`[6/7] the droplet of ${node.name} (now holding ${IP}) dies silently: its kubelet stops heartbeating, the node still shows Ready`);
  // The Deployment replaces the pod of the deleted node once that pod is gone: the pod garbage
  // collector removes it 40 s after the node; `kubectl delete pod --force` does it now.
  const orphans = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=gameserver' })).items.filter((p) => p.spec?.nodeName === w.deletedNode);
  for (const p of orphans) await core.deleteNamespacedPod({ namespace: 'default', name: p.metadata?.name ?? '', gracePeriodSeconds: 0 });
  const pods = await servingPods(core, 'gameserver', 2);
  detail(`the replacement pod runs: ${pods.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName}`).join(', ')}`);

  // With packets, the droplet dies whole: links down, its processes gone, its kubelet silent.
  const failedAt = w.packets?.failed();
  if (w.packets) await w.packets.lab.killDroplet(node.name);
  const lease = await cp.partitionNode(node.name, { awaitUnknown: false });
  const died = performance.now(); // from here on the kubelet writes nothing
  let notReadyAt: number | undefined;
  const notReady = waitFor(`node ${node.name} NotReady`, async () => {
    if (readyStatus(await core.readNode({ name: node.name })) !== 'Unknown') return false;
    notReadyAt ??= performance.now();
    return true;
  }, { timeoutMs: cp.timing.nodeMonitorGracePeriodMs + 30_000, intervalMs: 100 });
  const movedTo = await waitFor(`${IP} to leave the silent droplet`, async () => {
    const now = await w.admin.holder(IP);
    return now !== holderId && typeof now === 'number' ? now : undefined;
  }, { timeoutMs: cp.timing.nodeMonitorGracePeriodMs + 60_000, intervalMs: 10 });
  const movedS = (performance.now() - died) / 1000;
  const before = readyStatus(await core.readNode({ name: node.name })) === 'True' ? 'before' : 'after';
  detail(`${IP} -> droplet ${movedTo} (node ${NODES.find((n) => n.dropletId === movedTo)?.name}) ${movedS.toFixed(2)} s after the droplet died, ${before} the node controller marked ${node.name} NotReady`);
  detail(`kubectl logs: ${await w.attachedLine(3)}`);
  if (w.packets && failedAt !== undefined) {
    const survivors = await podsOn(core, NODES.find((n) => n.dropletId === movedTo)?.name ?? '');
    say(await w.packets.outageLine(failedAt, 'when the droplet died silently', (pod) => survivors.has(pod)));
  }
  const svc = await serviceShowing(core, [anchorOf(movedTo)], IP);
  for (const line of kubectlGetSvc(svc)) detail(`$ kubectl get svc  ${line}`);
  await notReady;
  const notReadyS = ((notReadyAt ?? performance.now()) - died) / 1000;
  detail(`the node controller marked ${node.name} NotReady after ${notReadyS.toFixed(2)} s (node-monitor-grace-period ${graceS} s here, 50 s by default upstream)`);
  detail(`its node Lease kept holder ${lease.holderIdentity} and ${lease.leaseDurationSeconds} s duration, last renewed ${lease.renewTime?.toISOString()}`);
  return { movedS, notReadyS };
}

/** names of the gameserver pods on that node */
async function podsOn(core: CoreV1Api, node: string): Promise<Set<string>> {
  const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=gameserver' })).items;
  return new Set(pods.filter((p) => p.spec?.nodeName === node).map((p) => p.metadata?.name ?? ''));
}

async function run(): Promise<void> {
  let cp: ControlPlane | undefined;
  let emulator: RunningEmulator | undefined;
  let webhook: RunningWebhookServer | undefined;
  let reconciler: RunningReconciler | undefined;
  let agents: AgentProcess[] = [];
  let packets: PacketView | undefined;
  try {
    say('floatip demo: a real Kubernetes control plane with fake (kwok) nodes and an emulated DigitalOcean API, all on loopback.');
    say('');
    say('[1/7] starting kube-apiserver, etcd, controller-manager, scheduler, kwok and the DigitalOcean emulator');
    const tls = generateLoopbackTls();
    // With packets, DigitalOcean actions take 2 s (test/dataplane/world.ts says why: kube-proxy
    // must have the new anchor before the IP arrives); without, 0.3 s as before.
    const actionDelayMs = netnsUnavailable() === undefined ? PACKET_ACTION_DELAY_MS : 300;
    [cp, emulator, webhook] = await Promise.all([
      startControlPlane(),
      startEmulator({ actionDelayMs }),
      startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, logger: createLogger({ level: 'silent' }) }),
    ]);
    await Promise.all(NODES.map((n) => cp!.addNode(n.name, { dropletId: n.dropletId })));
    detail(`up in ${elapsed(started)} s; nodes ${NODES.map((n) => `${n.name} (droplet ${n.dropletId})`).join(', ')}`);
    const view = await startPacketView(cp, emulator.url, NODES);
    if (typeof view === 'string') say(view);
    else {
      packets = view;
      detail(`packets: each droplet is a network namespace running real kube-proxy (nftables); an edge namespace NATs reserved IPs to the holder's anchor and applies the cloud firewalls`);
    }

    say('[2/7] registering the admission webhook and starting the reconciler as service account floatip-reconciler');
    await registerWebhooks(cp, { url: webhook.url, caBundlePem: tls.caPem });
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    const parsed = parseConfig({
      argv: ['--lease-namespace', NAMESPACE, '--health-port', '0', '--metrics-port', '0', '--cool-off', '2s'],
      // KUBECONFIG satisfies the parser; the service account's kubeconfig below is what is used
      env: { DIGITALOCEAN_TOKEN: 'demo-token', DIGITALOCEAN_API_URL: emulator.url, KUBECONFIG: cp.kubeconfigPath },
      readFile: () => '',
      hostname: 'floatip-reconciler-demo',
    });
    if (parsed.kind !== 'ok') throw new Error(`reconciler config: ${parsed.kind === 'error' ? parsed.message : 'help'}`);
    const logs = captureLogs();
    const admin = emulatorAdmin(emulator.url);
    reconciler = await startReconciler(parsed.config, {
      kubeConfig: await cp.kubeConfigForServiceAccount(NAMESPACE, 'floatip-reconciler'),
      logger: createLogger({ level: 'info', name: 'floatip-reconciler' }, logs.stream),
    });
    const rec = reconciler;
    await waitFor('the reconciler to lead', async () => rec.isLeader(), { timeoutMs: 30_000 });
    detail(`reconciler ${rec.identity} holds the leader Lease`);
    await applyAgentManifests(cp);
    if (packets) await packets.startAgents();
    else agents = await startAgents(cp, emulator.url, NODES);
    for (const n of NODES) {
      const anchor = await waitFor(`the anchor of ${n.name}`, async () => (await cp!.kubeConfig.makeApiClient(CoreV1Api).readNode({ name: n.name })).metadata?.annotations?.[ANCHOR_KEY]);
      anchors.set(n.dropletId, anchor);
    }
    detail(`floatip agent (DaemonSet floatip-agent, one process per node) recorded ${ANCHOR_KEY}: ${NODES.map((n) => `${n.name}=${anchorOf(n.dropletId)}`).join(', ')}`);

    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    say('[3/7] kubectl apply: Deployment "typo" annotated with a mistyped address');
    await waitFor('the validating webhook to be active', async () => {
      try {
        await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('typo', '104.248.100'), dryRun: 'All' });
        return false;
      } catch (err) {
        return err instanceof ApiException && err.code === 403;
      }
    });
    try {
      await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('typo', '104.248.100') });
      throw new Error('the bad Deployment was admitted');
    } catch (err) {
      detail(`rejected at once: ${apiMessage(err)}`);
    }

    say(`[4/7] kubectl apply: Deployment "gameserver", 2 replicas, annotation ${keys.annotation}: "${IP}"`);
    const applied = performance.now();
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('gameserver', IP) });
    const holderId = await waitFor(`${IP} to be assigned`, async () => (await admin.holder(IP)) ?? undefined, { timeoutMs: 60_000 });
    const holderNode = NODES.find((n) => n.dropletId === holderId);
    if (!holderNode) throw new Error(`${IP} went to droplet ${holderId}, which is no node of this cluster`);
    const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=gameserver' })).items;
    detail(`pods labeled by the webhook: ${pods.map((p: V1Pod) => `${p.metadata?.name} [${keys.label}=${p.metadata?.labels?.[keys.label]}] on ${p.spec?.nodeName}`).join(', ')}`);
    detail(`${IP} -> droplet ${holderId} (node ${holderNode.name}) ${elapsed(applied)} s after the apply`);
    // The reconciler logs once its client has seen the action complete (it polls the action).
    const attachedLines = (count: number) =>
      waitFor(`log line ${count} "Floating IP attached to droplet"`, async () => {
        const found = logs.capture.find({ msg: 'Floating IP attached to droplet', ip: IP });
        return found.length >= count ? found[count - 1] : undefined;
      });
    const quote = (l: Record<string, unknown>) =>
      JSON.stringify({ msg: l.msg, ip: l.ip, droplet: l.droplet, pod: l.pod, node: l.node, reason: l.reason });
    detail(`kubectl logs: ${quote(await attachedLines(1))}`);
    const events = await waitFor('the FloatingIPAssigned event', async () => {
      const list = (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'reason=FloatingIPAssigned' })).items;
      return list.length > 0 ? list : undefined;
    });
    for (const e of events) detail(`kubectl describe pod ${e.involvedObject.name}: ${e.type} ${e.reason} ${e.message}`);
    // a Service of floatip's class makes the traffic arrive: DigitalOcean delivers the reserved
    // IPv4 to the holder's anchor, which floatip keeps in the Service's externalIPs
    await core.createNamespacedService({ namespace: 'default', body: gameService(keys.annotation) });
    const exposed = await serviceShowing(core, [anchorOf(holderId)], IP);
    detail(`kubectl apply: Service "gameserver" (type LoadBalancer, loadBalancerClass ${keys.annotation}, UDP 7777, TCP 8080)`);
    for (const line of kubectlGetSvc(exposed)) detail(`$ kubectl get svc  ${line}`);
    for (const line of await firewallLines(emulator.url, `floatip-${DEFAULT_CLUSTER_ID}`)) detail(line);
    if (packets) say(await packets.startClient(IP, 'gameserver', { udp: 7777, tcp: 8080 }));

    say(`[5/7] the holder's node ${holderNode.name} goes away (kubectl delete node)`);
    const watched = await watchExternalIPs(cp.kubeConfig);
    const deleted = performance.now();
    const deletedAt = packets?.failed();
    await cp.deleteNode(holderNode.name);
    await agents.find((a) => a.nodeName === holderNode.name)?.stop();
    await packets?.stopAgent(holderNode.name);
    // The emulator changes the holder exactly when the assign action completes.
    const newHolder = await waitFor(`${IP} to move`, async () => {
      const now = await admin.holder(IP);
      return now !== holderId && now !== null && now !== undefined ? now : undefined;
    }, { timeoutMs: 60_000, intervalMs: 10 });
    const failover = (performance.now() - deleted) / 1000;
    detail(`${IP} -> droplet ${newHolder} (node ${NODES.find((n) => n.dropletId === newHolder)?.name})`);
    detail(`kubectl logs: ${quote(await attachedLines(2))}`);
    detail(`failover took ${failover.toFixed(2)} s from the node deletion to the completed DigitalOcean action (the action itself takes ${(actionDelayMs / 1000).toFixed(2)} s in the emulator)`);
    if (packets && deletedAt !== undefined) {
      const survivors = await podsOn(core, NODES.find((n) => n.dropletId === newHolder)?.name ?? '');
      say(await packets.outageLine(deletedAt, 'when the node was deleted', (pod) => survivors.has(pod)));
    }
    const followed = await serviceShowing(core, [anchorOf(newHolder)], IP);
    await waitFor('the watch to show it', async () => watched.seen.at(-1)?.join() === followed.spec?.externalIPs?.join());
    watched.stop();
    detail(`Service externalIPs as watched during the failover: ${watched.seen.map((ips) => `[${ips.join(', ')}]`).join(' -> ')} (the new anchor joins before the assign)`);
    for (const line of kubectlGetSvc(followed)) detail(`$ kubectl get svc  ${line}`);

    const silent = await silentDroplet({ cp, core, admin, holderId: newHolder, deletedNode: holderNode.name, attachedLine: async (n) => quote(await attachedLines(n)), packets });

    say('[7/7] tearing down');
    await reconciler.stop();
    reconciler = undefined;
    say(`demo ok: failover ${failover.toFixed(2)} s; silent droplet: IP moved after ${silent.movedS.toFixed(2)} s, node NotReady after ${silent.notReadyS.toFixed(2)} s`);
  } finally {
    await reconciler?.stop().catch(() => undefined);
    await Promise.all(agents.map((a) => a.stop()));
    await packets?.stop().catch(() => undefined);
    await webhook?.close({ graceMs: 0 }).catch(() => undefined);
    await emulator?.close().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
  }
}

try {
  await run();
} catch (err) {
  console.error(`demo failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
