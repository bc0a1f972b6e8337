// The liveness world: the reconciler world at upstream kubelet timing (node Leases 40 s renewed
// every 10 s, controller-manager grace 50 s), the packet lab's droplets (network namespaces on
// one VPC bridge, a kubelet stand-in on :10250 of each InternalIP), and inside the droplets
// the real agent (answering indirect probes) and real reconciler processes. A droplet's links
// can be cut towards chosen peers, or made lossy, with nft inside its own namespace.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { agentCredentials, applyAgentManifests, AGENT_MAIN, AGENT_NS } from './agent-fixture.ts';
import { UPSTREAM_NODE_LEASE_SECONDS, UPSTREAM_NODE_MONITOR_GRACE_MS, waitFor } from './cluster/harness.ts';
import { kubeConfigYaml } from './cluster/kubeconfig.ts';
import type { Component } from './cluster/processes.ts';
import { createLab } from './dataplane/lab.ts';
import { addWorkerDroplets } from './dataplane/world.ts';
import type { Lab, LabDroplet } from './dataplane/lab.ts';
import { inNs, nft } from './dataplane/netns.ts';
import { NS, nodeOf, startReconcilerWorld, TOKEN } from './reconciler-fixture.ts';
import type { ReconcilerWorld } from './reconciler-fixture.ts';

const RECONCILER_MAIN = fileURLToPath(new URL('../reconciler/main.ts', import.meta.url));
export const KEY_SECRET = 'floatip-liveness-key';
const CUT_TABLE = 'floatip_liveness_cut';
const METRICS_PORT = 9090;

export interface LivenessLab extends LivenessProcesses {
  readonly world: ReconcilerWorld;
  readonly lab: Lab;
  droplet(node: string): LabDroplet;
  /** `node` drops every packet to and from `peers` (lossPercent: only that share, at random) */
  cut(node: string, peers: readonly string[], lossPercent?: number): Promise<void>;
  heal(node: string): Promise<void>;
  stop(): Promise<void>;
}

/** The liveness side of a world with a lab: the key Secret, agents that answer indirect probes, reconcilers inside droplets. */
export interface LivenessProcesses {
  readonly agents: Map<string, Component>;
  readonly reconcilers: Map<string, Component>;
  startAgent(node: string): Promise<Component>;
  /** a reconciler process inside the node's droplet (POD_NAME reconciler-<node>), with extra flags */
  startReconciler(node: string, args?: readonly string[]): Component;
  /** the node whose reconciler holds the leader Lease, if any */
  leaderNode(): Promise<string | undefined>;
  /** the reconciler's Prometheus counters and gauges (name{labels} → value), read inside its droplet */
  metrics(node: string): Promise<Map<string, number>>;
}

/** Sets up the key Secret and the kubeconfigs; starts no process (startAgent and startReconciler do). */
export async function livenessProcesses(world: ReconcilerWorld, lab: Lab, nodes: readonly string[]): Promise<LivenessProcesses> {
  // The key Secret as a reconciler creates it; agents get it as the mounted file would show it.
  const key = randomBytes(32);
  await world.core.createNamespacedSecret({ namespace: AGENT_NS, body: { metadata: { name: KEY_SECRET }, data: { key: key.toString('base64') } } });
  const keyFile = join(lab.dir, 'liveness.key');
  await writeFile(keyFile, key, { mode: 0o600 });
  const reconcilerToken = (await world.cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler')).getCurrentUser()?.token ?? '';
  const reconcilerYaml = kubeConfigYaml(world.cp.server, world.cp.caPem, { token: reconcilerToken });
  const agents = new Map<string, Component>();
  const reconcilers = new Map<string, Component>();
  const reconcilerKubeconfig = new Map<string, string>();
  for (const node of nodes) reconcilerKubeconfig.set(node, await lab.droplet(node).writeKubeconfig('reconciler', reconcilerYaml));
  return {
    agents,
    reconcilers,
    async startAgent(node) {
      const d = lab.droplet(node);
      const kubeconfig = await d.writeKubeconfig('agent', (await agentCredentials(world.cp, node)).yaml);
      const c = d.run(`agent-${Date.now()}`, process.execPath, [AGENT_MAIN, '--node-name', node], {
        PATH: process.env['PATH'] ?? '',
        KUBECONFIG: kubeconfig,
        HOST_IP: d.internalIp,
        FLOATIP_LIVENESS_KEY_FILE: keyFile,
      });
      agents.set(node, c);
      // answering on the VPC address: a signed request would do, an unsigned one is refused with 401
      await waitFor(`the agent on ${node} to listen on ${d.internalIp}:9406`, async () => {
        const out = await inNs(d.ns, 'ss', ['-Hltn', `src ${d.internalIp}:9406`]).catch(() => '');
        return out.includes('9406');
      });
      return c;
    },
    startReconciler(node, args = []) {
      const d = lab.droplet(node);
      // the lab's emulator bridge has 127.0.0.1:8080 inside the droplet: metrics on 9090
      const c = d.run(`reconciler-${Date.now()}`, process.execPath, [RECONCILER_MAIN, '--log-level=debug', `--metrics-port=${METRICS_PORT}`, '--health-port=9091', ...(args.includes('--no-liveness-probes') ? [] : ['--liveness-probes']), ...args], {
        PATH: process.env['PATH'] ?? '',
        KUBECONFIG: reconcilerKubeconfig.get(node) ?? '',
        DIGITALOCEAN_TOKEN: TOKEN,
        DIGITALOCEAN_API_URL: d.emulatorUrl,
        POD_NAME: `reconciler-${node}`,
        POD_NAMESPACE: NS,
        NODE_NAME: node,
      });
      reconcilers.set(node, c);
      return c;
    },
    async leaderNode() {
      const lease = await world.cp.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'floatip-reconciler', namespace: NS }).catch(() => undefined);
      const holder = lease?.spec?.holderIdentity ?? '';
      return /^reconciler-(.+)-[0-9a-f]{6}$/.exec(holder)?.[1];
    },
    async metrics(node) {
      const script = "fetch('http://127.0.0.1:9090/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))";
      const text = await inNs(lab.droplet(node).ns, process.execPath, ['-e', script]);
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
      }
      return out;
    },
  };
}

export async function startLivenessLab(ids: readonly number[]): Promise<LivenessLab> {
  const world = await startReconcilerWorld({
    droplets: ids,
    actionDelayMs: 100,
    controlPlane: { nodeMonitorGracePeriodMs: UPSTREAM_NODE_MONITOR_GRACE_MS, nodeLeaseDurationSeconds: UPSTREAM_NODE_LEASE_SECONDS },
  });
  let lab: Lab | undefined;
  try {
    await addWorkerDroplets(world, ids);
    await applyAgentManifests(world.cp);
    lab = await createLab({ cp: world.cp, emulatorUrl: world.emulator.url, droplets: ids.map((id) => ({ id, node: nodeOf(id) })), kubeProxy: false });
    const started = lab;
    const live = await livenessProcesses(world, started, ids.map(nodeOf));
    for (const id of ids) await live.startAgent(nodeOf(id));

    return {
      world,
      lab: started,
      ...live,
      droplet: (node) => started.droplet(node),
      async cut(node, peers, lossPercent) {
        const d = started.droplet(node);
        const addresses = peers.map((p) => started.droplet(p).internalIp).join(', ');
        const when = lossPercent === undefined ? '' : ` numgen random mod 100 < ${lossPercent}`;
        await nft(d.ns, [
          `table inet ${CUT_TABLE} {`,
          '  chain out { type filter hook output priority 0; policy accept;',
          `    ip daddr { ${addresses} }${when} drop`,
          '  }',
          '  chain in { type filter hook input priority 0; policy accept;',
          `    ip saddr { ${addresses} }${when} drop`,
          '  }',
          '}',
        ].join('\n'));
      },
      async heal(node) {
        await inNs(started.droplet(node).ns, 'nft', ['delete', 'table', 'inet', CUT_TABLE]).catch(() => undefined);
      },
      async stop() {
        // FLOATIP_LIVENESS_LOGS=dir keeps the droplets' logs (agents, reconcilers) for a post-mortem
        const keep = process.env['FLOATIP_LIVENESS_LOGS'];
        if (keep) await cp(started.dir, keep, { recursive: true, filter: (src) => !src.endsWith('.sock') }).catch(() => undefined);
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

/** pino lines of a process's log file */
export const logLines = (c: Component): Record<string, unknown>[] =>
  readFileSync(c.logPath, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

/** a reconciler process whose informers have synced and which now takes part in the election */
export const joinedElection = (c: Component): boolean => logLines(c).some((l) => l['msg'] === 'informer caches synced; joining leader election');

/** Which droplet the emulator says holds `ip`, polled every 20 ms until it is not `from`; resolves with it and the time it was seen. */
export async function nextHolder(world: ReconcilerWorld, ip: string, from: number, timeoutMs: number): Promise<{ holder: number | null; atMs: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holder = (await world.admin.holder(ip)) ?? null;
    if (holder !== from) return { holder, atMs: Date.now() };
    if (Date.now() > deadline) throw new Error(`${ip} stayed on droplet ${from} for ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
