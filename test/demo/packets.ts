// The client's view in `npm run demo`: when network namespaces can be made, the demo's nodes
// become droplets of the packet lab (test/dataplane: real kube-proxy, the edge following the
// emulator, pods as namespaces) and a UDP client runs through the whole story, printing at
// each failure a line `UDP <ip>:<port>: outage <seconds> s when ...`. Where they cannot, one
// line says what is missing and the API-level story runs unchanged.
import type { ControlPlane } from '../cluster/harness.ts';
import { agentCredentials } from '../agent-fixture.ts';
import { createLab, netnsUnavailable } from '../dataplane/lab.ts';
import type { Lab, Probe } from '../dataplane/lab.ts';
import { outage } from '../dataplane/outage.ts';
import type { Component } from '../cluster/processes.ts';

export interface PacketView {
  readonly lab: Lab;
  /** the agent inside each node's droplet, by node name */
  readonly agents: Map<string, Component>;
  /** the real floatip agent inside each node's droplet (the DaemonSet's manifests applied first) */
  startAgents(): Promise<void>;
  /** stops the agent of a node (its Node was deleted) */
  stopAgent(node: string): Promise<void>;
  /** starts following the workload and the client; resolves with its first reply's line */
  startClient(ip: string, app: string, ports: { udp: number; tcp: number }): Promise<string>;
  /** marks the instant of a failure */
  failed(): number;
  /** waits for replies from `podNames`' pods, then the `UDP ...: outage` line since the failure */
  outageLine(since: number, what: string, podNames: (pod: string) => boolean): Promise<string>;
  stop(): Promise<void>;
}

/** The lab for the demo's nodes, or a one-line reason why not (the demo then runs without it). */
export async function startPacketView(cp: ControlPlane, emulatorUrl: string, nodes: readonly { name: string; dropletId: number }[]): Promise<PacketView | string> {
  const why = netnsUnavailable();
  if (why !== undefined) return `packets: not shown, ${why}; the API-level story runs without them`;
  const lab = await createLab({ cp, emulatorUrl, droplets: nodes.map((n) => ({ id: n.dropletId, node: n.name })) });
  const agents = new Map<string, Component>();
  let probe: Probe | undefined;
  let follow: { stop(): Promise<void> } | undefined;
  let target = '';
  const now = () => performance.timeOrigin + performance.now();
  return {
    lab,
    agents,
    async startAgents() {
      for (const n of nodes) agents.set(n.name, await lab.startAgent(n.name, (await agentCredentials(cp, n.name)).yaml));
    },
    async stopAgent(node) {
      await agents.get(node)?.stop(500);
    },
    async startClient(ip, app, ports) {
      follow = lab.followPods('default', `app=${app}`, { udp: [ports.udp], tcp: [ports.tcp] });
      target = `${ip}:${ports.udp}`;
      await lab.untilServed(ip);
      probe = lab.probe({ target: ip, udpPort: ports.udp, tcpPort: ports.tcp, maxSeconds: 900, udpIntervalMs: 10 });
      const first = await probe.nextReply((r) => r.from === ip, 60_000);
      return `UDP ${target}: a datagram every 10 ms from the client ${first.saw ?? '?'}; replies come from ${first.from}, answered by pod ${first.pod}`;
    },
    failed: now,
    async outageLine(since, what, fromPod) {
      if (probe === undefined) throw new Error('startClient first');
      const p = probe;
      const back = await p.nextReply((r) => r.t > since && r.from === p.target && r.pod !== undefined && fromPod(r.pod), 120_000);
      await p.nextReply((r) => r.t > back.t + 500, 10_000); // half a second of service after it
      const o = outage(p.record, { from: since, to: now(), expectFrom: p.target });
      return `UDP ${target}: outage ${(o.longestGapMs / 1000).toFixed(2)} s ${what} (${o.lost} of ${o.sent} datagrams lost, ${o.tcpFailures} of ${o.tcpAttempts} TCP connects failed; now answered by pod ${back.pod})`;
    },
    async stop() {
      await probe?.stop();
      await follow?.stop();
      await Promise.all([...agents.values()].map((a) => a.stop(500)));
      await lab.stop();
    },
  };
}
