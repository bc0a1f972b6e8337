// The packet lab: each kwok node's droplet as a network namespace (droplet.ts) running real
// kube-proxy, DigitalOcean's edge as a namespace that follows the emulator (edge.ts), a VPC
// bridge namespace, pods as namespaces with echo servers (pod-netns.ts), and a client
// namespace ("the internet") for the prober (probe.ts). No lab namespace has a route to the
// host (checked at start-up); everything is removed by stop(), by an exit handler, and by
// the sweeper after a crash (sweeper.ts).
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import type { ControlPlane } from '../cluster/harness.ts';
import type { Component } from '../cluster/processes.ts';
import { CLIENT } from './addresses.ts';
import { createDroplet, VPC_BRIDGE } from './droplet.ts';
import type { LabDroplet } from './droplet.ts';
import { startEdge } from './edge.ts';
import type { Edge } from './edge.ts';
import { CLIENT_LINK } from './edge-rules.ts';
import { inNs, ip, run } from './netns.ts';
import { createPod } from './pod-netns.ts';
import type { LabPod, Ports } from './pod-netns.ts';
import { startProbe } from './probe.ts';
import type { Probe, ProbeOptions } from './probe.ts';
import { LAB_PREFIX, removeNamespace, sweepDeadLabs } from './sweeper.ts';

export { missingTools, netnsRefused, netnsUnavailable } from './netns.ts';
export type { LabDroplet } from './droplet.ts';
export type { LabPod, Ports } from './pod-netns.ts';
export type { Probe } from './probe.ts';

export interface LabOptions {
  readonly cp: ControlPlane;
  /** the emulator's root URL (its admin API and metadata service are used) */
  readonly emulatorUrl: string;
  /** the droplets that get a namespace, with their kwok node */
  readonly droplets: readonly { readonly id: number; readonly node: string }[];
  /** start real kube-proxy in every droplet (default true) */
  readonly kubeProxy?: boolean;
}

export interface Lab {
  readonly dir: string;
  readonly clientNs: string;
  readonly edge: Edge;
  readonly droplets: ReadonlyMap<string, LabDroplet>;
  droplet(node: string): LabDroplet;
  /** the lab's view of a workload: a namespace per pod that has an IP, none for pods gone or terminating */
  syncPods(namespace: string, labelSelector: string, ports: Ports): Promise<LabPod[]>;
  /** syncPods every 100 ms until stopped (a pod replaced after a failure gets its namespace) */
  followPods(namespace: string, labelSelector: string, ports: Ports): { stop(): Promise<void> };
  probe(opts: ProbeOptions): Probe;
  /**
   * Waits until the edge routes `ip` to a droplet whose kube-proxy has programmed that
   * droplet's anchor: a client that starts earlier can be blackholed by a conntrack entry
   * made before the rule (README, "A trap it found"). Returns the holder's droplet.
   */
  untilServed(ip: string, timeoutMs?: number): Promise<LabDroplet>;
  /** the UDP conntrack entries to `port` in the edge and every droplet, one line each (for a failure's report) */
  conntrackLines(port: number): Promise<string[]>;
  /**
   * The real floatip agent (agent/main.ts) inside the node's droplet, unchanged: default
   * metadata URL (169.254.169.254), `kubeconfigYaml` rewritten to the API bridge.
   */
  startAgent(node: string, kubeconfigYaml: string, args?: readonly string[]): Promise<Component>;
  /**
   * The droplet dies silently: its links go down, every process in it stops (agent,
   * kube-proxy, its pods' servers) and its kubelet falls silent (the Lease is no longer
   * renewed). Resolves once all three hold.
   */
  killDroplet(node: string): Promise<void>;
  /** undoes killDroplet: links up, bridges and kube-proxy back, the kubelet heard again (healNode); agents are the caller's */
  reviveDroplet(node: string): Promise<void>;
  stop(): Promise<void>;
}

let labs = 0;
const AGENT_MAIN = fileURLToPath(new URL('../../agent/main.ts', import.meta.url));

/** kube-proxy from the same build as the other test binaries (test/cluster/build-binaries.sh). */
export async function locateKubeProxy(): Promise<string> {
  const script = fileURLToPath(new URL('../cluster/build-binaries.sh', import.meta.url));
  const dir = await new Promise<string>((resolve, reject) =>
    execFile('bash', [script], { timeout: 60 * 60_000, maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim().split('\n').at(-1) ?? ''))),
  );
  const path = join(dir, 'kube-proxy');
  accessSync(path, constants.X_OK);
  return path;
}

async function hostLinks(): Promise<string> {
  const links = JSON.parse(await run('ip', ['-j', 'link', 'show'])) as { ifindex: number; ifname: string }[];
  return links.map((l) => `${l.ifindex}:${l.ifname}`).sort().join(' ');
}

async function hostAddresses(): Promise<string[]> {
  const out = JSON.parse(await run('ip', ['-j', 'addr', 'show'])) as { addr_info?: { local: string; scope: string }[] }[];
  return out.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => a.local));
}

export async function createLab(opts: LabOptions): Promise<Lab> {
  sweepDeadLabs();
  const n = ++labs;
  const name = (role: string) => `${LAB_PREFIX}${process.pid}-${n}-${role}`;
  const made: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'floatip-lab-'));
  // Synchronous, for exits and signals: the namespaces take their links, nft tables and processes along.
  const removeAll = () => {
    for (const ns of made.splice(0).reverse()) removeNamespace(ns);
  };
  process.once('exit', removeAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, removeAll);
  const addNs = async (ns: string) => {
    made.push(ns);
    await run('ip', ['netns', 'add', ns]);
  };

  const linksBefore = await hostLinks();
  const clientNs = name('client');
  const edgeNs = name('edge');
  const vpcNs = name('vpc');
  let edge: Edge | undefined;
  const droplets = new Map<string, LabDroplet>();
  const pods = new Map<string, LabPod>();
  let podCount = 0;

  const stop = async () => {
    await edge?.stop();
    await Promise.all([...pods.values()].map((p) => p.remove()));
    pods.clear();
    await Promise.all([...droplets.values()].map((d) => d.close()));
    removeAll();
    process.off('exit', removeAll);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all([addNs(clientNs), addNs(edgeNs), addNs(vpcNs)]);
    await ip(
      clientNs,
      'link set lo up',
      `link add eth0 type veth peer name ${CLIENT_LINK} netns ${edgeNs}`,
      `addr add ${CLIENT.ipv4}/24 dev eth0`,
      `addr add ${CLIENT.ipv6}/64 dev eth0 nodad`,
      'link set eth0 up',
      `route add default via ${CLIENT.gateway4}`,
      `route add default via ${CLIENT.gateway6}`,
    );
    await ip(vpcNs, 'link set lo up', `link add ${VPC_BRIDGE} type bridge`, `link set ${VPC_BRIDGE} up`);

    const adminYaml = await readFile(opts.cp.kubeconfigPath, 'utf8');
    edge = await startEdge({ ns: edgeNs, emulatorUrl: opts.emulatorUrl });
    const anchors = new Map(edge.view().droplets.map((d) => [d.id, d.anchorIpv4]));
    for (const d of opts.droplets) {
      const anchor = anchors.get(d.id);
      if (!anchor) throw new Error(`droplet ${d.id} has no anchor IPv4 in the emulator`);
      const ns = name(`d${d.id}`);
      made.push(ns);
      droplets.set(d.node, await createDroplet({ id: d.id, node: d.node, anchor }, { ns, edgeNs, vpcNs, dir, apiServer: opts.cp.server, emulatorUrl: opts.emulatorUrl }));
    }
    await edge.setDroplets([...droplets.values()]);

    // Safety: the host's links are exactly as before, and the edge (every lab packet's only
    // way out of a droplet or the client) has no route to any of the host's addresses.
    if ((await hostLinks()) !== linksBefore) throw new Error('the lab changed the host network namespace: refusing to go on');
    for (const address of await hostAddresses()) {
      const routed = await run('ip', ['netns', 'exec', edgeNs, 'ip', 'route', 'get', address]).then(() => true, () => false);
      if (routed) throw new Error(`the lab's edge has a route to the host address ${address}: refusing to go on`);
    }

    if (opts.kubeProxy ?? true) {
      const binary = await locateKubeProxy();
      await Promise.all([...droplets.values()].map((d) => d.startKubeProxy(binary, adminYaml)));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const core = opts.cp.kubeConfig.makeApiClient(CoreV1Api);
  const lab: Lab = {
    dir,
    clientNs,
    edge,
    droplets,
    droplet(node) {
      const d = droplets.get(node);
      if (!d) throw new Error(`no droplet namespace for node ${node}`);
      return d;
    },
    async syncPods(namespace, labelSelector, ports) {
      const list = (await core.listNamespacedPod({ namespace, labelSelector })).items;
      const live = (p: V1Pod) => !p.metadata?.deletionTimestamp && p.status?.podIP && p.spec?.nodeName && droplets.get(p.spec.nodeName)?.dead === false;
      const wanted = new Map(list.filter(live).map((p) => [p.metadata?.uid ?? '', p]));
      for (const [uid, pod] of pods) {
        if (!wanted.has(uid) || pod.droplet.dead) {
          pods.delete(uid);
          await pod.remove();
        }
      }
      for (const [uid, p] of wanted) {
        if (pods.has(uid)) continue;
        const droplet = lab.droplet(p.spec?.nodeName ?? '');
        const k = ++podCount;
        const ns = name(`p${k}`);
        made.push(ns);
        pods.set(uid, await createPod({
          key: `${namespace}/${p.metadata?.name}`, uid, podIp: p.status?.podIP ?? '', ns, veth: `pod${k}`, droplet, others: [...droplets.values()], ports, dir,
        }));
      }
      return [...pods.values()].filter((p) => p.key.startsWith(`${namespace}/`));
    },
    followPods(namespace, labelSelector, ports) {
      let running = true;
      const loop = (async () => {
        while (running) {
          await lab.syncPods(namespace, labelSelector, ports).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      return {
        async stop() {
          running = false;
          await loop;
        },
      };
    },
    probe: (probeOpts) => startProbe(clientNs, probeOpts),
    async conntrackLines(port) {
      const spaces = [['edge', lab.edge.ns], ...[...droplets.values()].map((d) => [d.node, d.ns])];
      const out: string[] = [];
      for (const [label, ns] of spaces) {
        const listed = await inNs(ns ?? '', 'conntrack', ['-L', '-p', 'udp', '--dport', String(port)]).catch(() => '');
        for (const line of listed.split('\n').filter((l) => l.trim() !== '')) out.push(`${label}: ${line.replace(/\s+/g, ' ').trim()}`);
      }
      return out;
    },
    async untilServed(address, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const holder = lab.edge.view().holders[address];
        const d = [...droplets.values()].find((x) => x.id === holder);
        if (d && !d.dead && (await d.kubeProxyHas(d.anchor))) return d;
        if (Date.now() > deadline) throw new Error(`${address} not served within ${timeoutMs} ms: holder ${holder ?? 'none'}${d ? `, kube-proxy of ${d.node} without ${d.anchor}` : ''}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async startAgent(node, kubeconfigYaml, args = []) {
      const d = lab.droplet(node);
      const kubeconfig = await d.writeKubeconfig('agent', kubeconfigYaml);
      return d.run('agent', process.execPath, [AGENT_MAIN, '--node-name', node, ...args], { PATH: process.env['PATH'] ?? '', KUBECONFIG: kubeconfig });
    },
    async killDroplet(node) {
      const d = lab.droplet(node);
      const onIt = [...pods.entries()].filter(([, p]) => p.droplet === d);
      await Promise.all([
        d.die(),
        ...onIt.map(([, p]) => p.server.stop(0)),
        opts.cp.partitionNode(node, { awaitUnknown: false }),
      ]);
    },
    async reviveDroplet(node) {
      await lab.droplet(node).revive();
      await opts.cp.healNode(node);
    },
    stop,
  };
  return lab;
}
