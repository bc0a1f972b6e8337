// The whole chain with packets, for e2e tests, the outage benchmark and the demo: the
// reconciler world (control plane, webhook, emulator; test/reconciler-fixture.ts), the lab
// on top (a droplet namespace per node with kube-proxy and the real floatip agent inside)
// and a game workload: a Deployment claiming a reserved IP and a Service of floatip's class
// with a UDP and a TCP port, each pod a namespace running the echo server.
import type { V1Service } from '@kubernetes/client-node';
import type { Component } from '../cluster/processes.ts';
import type { ControlPlaneOptions } from '../cluster/harness.ts';
import { agentCredentials, applyAgentManifests } from '../agent-fixture.ts';
import { APP_NS, floatingDeployment, nodeOf, startReconcilerWorld } from '../reconciler-fixture.ts';
import type { ReconcilerWorld } from '../reconciler-fixture.ts';
import { DEFAULT_CLUSTER_ID, doksWorkerTags } from '../do-emulator/world.ts';
import { createLab } from './lab.ts';
import type { Lab, Ports } from './lab.ts';

export const CLASS = 'k8s.haim.dev/floating-ip';

export interface Game {
  readonly app: string;
  readonly ip: string;
  readonly udp: number;
  readonly tcp: number;
  readonly ports: Ports;
  stop(): Promise<void>;
}

export interface PacketWorld {
  readonly world: ReconcilerWorld;
  readonly lab: Lab;
  readonly nodes: readonly { readonly name: string; readonly dropletId: number }[];
  /** the agent process inside each node's droplet */
  readonly agents: Map<string, Component>;
  stop(): Promise<void>;
}

/**
 * DigitalOcean actions take seconds; the emulator's default 100 ms is faster than kube-proxy
 * (which programs a Service change within its 1 s min-sync-period). A datagram that reaches
 * the new holder before kube-proxy has its anchor gets a conntrack entry without DNAT, and a
 * client sending every 10 ms keeps that entry alive: the flow is blackholed until kube-proxy
 * next cleans conntrack (seen in this lab: 52 s, when the old pod was garbage collected). So
 * the packet world's actions take 2 s unless a test asks otherwise.
 */
export const PACKET_ACTION_DELAY_MS = 2_000;

/** The emulator knows droplets 1001..1003; the others of `ids` become DOKS workers of the same cluster (before a lab is made on them). */
export async function addWorkerDroplets(world: ReconcilerWorld, ids: readonly number[]): Promise<void> {
  for (const id of ids) {
    if (id <= 1003) continue;
    const body = { id, name: nodeOf(id), tags: doksWorkerTags(DEFAULT_CLUSTER_ID), anchorIpv4: `10.20.0.${11 + id - 1001}` };
    const res = await fetch(`${world.emulator.url}/_emulator/droplets`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (res.status !== 201) throw new Error(`emulator: droplet ${id} not added (${res.status} ${await res.text()})`);
  }
}

export async function startPacketWorld(opts: { droplets?: readonly number[]; actionDelayMs?: number; controlPlane?: ControlPlaneOptions } = {}): Promise<PacketWorld> {
  const ids = opts.droplets ?? [1001, 1002, 1003];
  const world = await startReconcilerWorld({ droplets: ids, actionDelayMs: opts.actionDelayMs ?? PACKET_ACTION_DELAY_MS, controlPlane: opts.controlPlane });
  let lab: Lab | undefined;
  try {
    const nodes = ids.map((id) => ({ name: nodeOf(id), dropletId: id }));
    await addWorkerDroplets(world, ids);
    await applyAgentManifests(world.cp);
    lab = await createLab({ cp: world.cp, emulatorUrl: world.emulator.url, droplets: nodes.map((n) => ({ id: n.dropletId, node: n.name })) });
    const agents = new Map<string, Component>();
    for (const n of nodes) agents.set(n.name, await lab.startAgent(n.name, (await agentCredentials(world.cp, n.name)).yaml));
    const started = lab;
    return {
      world,
      lab,
      nodes,
      agents,
      async stop() {
        await started.stop();
        await world.stop();
      },
    };
  } catch (err) {
    await lab?.stop();
    await world.stop();
    throw err;
  }
}

export function gameService(app: string, ports: { udp: number; tcp: number }, policy: 'Local' | 'Cluster' = 'Local'): V1Service {
  return {
    metadata: { name: app, namespace: APP_NS },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: CLASS,
      selector: { app },
      externalTrafficPolicy: policy,
      allocateLoadBalancerNodePorts: false,
      ports: [
        { name: 'game', protocol: 'UDP', port: ports.udp },
        { name: 'admin', protocol: 'TCP', port: ports.tcp },
      ],
    },
  };
}

/** The Deployment (one pod per node) and its Service; the lab follows its pods until stop(). */
export async function deployGame(pw: PacketWorld, opts: { app?: string; ip?: string; replicas?: number; udp?: number; tcp?: number; policy?: 'Local' | 'Cluster' } = {}): Promise<Game> {
  const app = opts.app ?? 'game';
  const ip = opts.ip ?? '104.248.100.100';
  const ports = { udp: opts.udp ?? 7777, tcp: opts.tcp ?? 8080 };
  await pw.world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment(app, ip, opts.replicas ?? 2) });
  await pw.world.core.createNamespacedService({ namespace: APP_NS, body: gameService(app, ports, opts.policy) });
  const following = pw.lab.followPods(APP_NS, `app=${app}`, { udp: [ports.udp], tcp: [ports.tcp] });
  return { app, ip, ...ports, ports: { udp: [ports.udp], tcp: [ports.tcp] }, stop: () => following.stop() };
}
