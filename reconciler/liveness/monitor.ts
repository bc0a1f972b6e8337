// The liveness loop of one leadership term: every interval, one TCP handshake to each
// probed droplet's InternalIP on the kubelet port; results go to the detector (detector.ts);
// its effects become indirect probes, metrics, log lines and — when the set of droplets
// confirmed dead changes — one callback to the controller, which re-plans their IPs.
//
// Probed: the holders and the next target of each IP (what the controller names), plus a
// few witnesses — nodes whose agents can be asked for indirect probes — so that the guard
// (more than half failing = this leader is cut off) has something to compare with. A new
// term probes at once: a new leader judges the holders it inherits in its first interval.
import type { Logger } from '../../shared/logger.ts';
import type { SetTimer } from '../../shared/timers.ts';
import type { TcpProber } from '../../shared/tcp-probe.ts';
import { guarded, step } from './detector.ts';
import type { DetectorConfig, DetectorEvent, Effect, LivenessMap } from './detector.ts';
import type { IndirectProber } from './indirect.ts';
import type { LivenessMetrics } from './metrics.ts';

export interface LivenessConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** agents asked per indirect round (k) */
  readonly indirectProbers: number;
  /** consecutive failed probes before a suspicion */
  readonly failuresToSuspect: number;
  /** the kubelet's port: what a probe's handshake targets */
  readonly kubeletPort: number;
  /** the node this replica runs on: its agent shares its fate, so it is never asked */
  readonly selfNode: string | undefined;
}

export interface NodeAddress {
  readonly name: string;
  readonly dropletId: number;
  /** InternalIP (the VPC address) */
  readonly address: string;
  /** Kubernetes says Ready: only such nodes are witnesses and probers (a NotReady one's silence is no news) */
  readonly ready: boolean;
}

export interface MonitorDeps {
  readonly config: LivenessConfig;
  readonly probe: TcpProber;
  readonly indirect: IndirectProber;
  /** droplets that must be probed now: holders and next targets */
  readonly targets: () => Iterable<number>;
  /** every node with a droplet id and an InternalIP */
  readonly nodes: () => Iterable<NodeAddress>;
  /** droplets whose node Lease went quiet: the guard does not count them (read once per interval) */
  readonly quiet?: () => ReadonlySet<number>;
  /** the droplets confirmed dead changed (droplet → when its probes started failing) */
  readonly onChange: (dead: ReadonlyMap<number, number>) => void;
  readonly metrics: LivenessMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  readonly setTimer: SetTimer;
}

export interface LivenessMonitor {
  /** run until the signal aborts (the end of the term) */
  start(signal: AbortSignal): void;
  /** probe now rather than at the next interval (the holders just became known) */
  probeNow(): void;
  /** droplet → when its probes started failing, for the droplets confirmed dead */
  dead(): ReadonlyMap<number, number>;
  /** the detector's state (tests, benchmarks) */
  state(): LivenessMap;
}

export function createLivenessMonitor(deps: MonitorDeps): LivenessMonitor {
  const { config, metrics, logger: log } = deps;
  let map: LivenessMap = new Map();
  let deadSet = new Map<number, number>();
  /** when the last probe that reached each droplet was sent: older failures are stale news */
  const lastReachedSent = new Map<number, number>();
  let signal: AbortSignal | undefined;
  let cancelTick: (() => void) | undefined;
  /** droplets whose node Lease went quiet, as of the last interval: never witnesses or probers */
  let quiet: ReadonlySet<number> = new Set();

  let detectorConfig: DetectorConfig = { failuresToSuspect: config.failuresToSuspect };

  function directory(): Map<number, NodeAddress> {
    const byDroplet = new Map<number, NodeAddress>();
    for (const n of deps.nodes()) byDroplet.set(n.dropletId, n);
    return byDroplet;
  }

  function feed(event: DetectorEvent, nodes: Map<number, NodeAddress>): void {
    const r = step(map, event, detectorConfig);
    map = r.map;
    for (const e of r.effects) act(e, nodes);
  }

  function act(e: Effect, nodes: Map<number, NodeAddress>): void {
    const node = nodes.get(e.droplet)?.name;
    const fields = { droplet: e.droplet, node };
    switch (e.kind) {
      case 'suspected':
        metrics.suspicions.inc();
        log.info(fields, 'liveness: probes of the droplet failed; asking agents on other nodes');
        return;
      case 'ask':
        void ask(e.droplet, e.round, nodes);
        return;
      case 'cleared':
        metrics.cleared.inc({ by: e.by });
        log.info({ ...fields, by: e.by }, e.by === 'direct' ? 'liveness: the droplet answers again; suspicion cleared' : 'liveness: another node reaches the droplet; only this leader\'s path to it fails');
        return;
      case 'dead':
        metrics.confirmedDead.inc();
        log.warn({ ...fields, probers: e.probers, failingForMs: deps.now() - e.sinceMs }, 'liveness: droplet unreachable from this leader and from every agent that answered; its IPs move');
        changed();
        return;
      case 'revived':
        log.info(fields, 'liveness: a droplet confirmed dead answers again');
        changed();
        return;
      case 'inconclusive':
        log.debug({ ...fields, why: e.why }, 'liveness: indirect round without a verdict');
        return;
    }
  }

  function changed(): void {
    const next = new Map<number, number>();
    for (const [id, d] of map) if (d.phase === 'dead') next.set(id, d.failingSinceMs ?? deps.now());
    if (next.size === deadSet.size && [...next.keys()].every((k) => deadSet.has(k))) return;
    deadSet = next;
    deps.onChange(deadSet);
  }

  /** Agents to ask about `droplet`: reachable witnesses first, never the suspect's or our own node. */
  function probersFor(droplet: number, nodes: Map<number, NodeAddress>): NodeAddress[] {
    const candidates = [...nodes.values()].filter((n) => n.ready && !quiet.has(n.dropletId) && n.dropletId !== droplet && n.name !== config.selfNode);
    const score = (n: NodeAddress): number => {
      const d = map.get(n.dropletId);
      return d === undefined ? 1 : d.phase === 'ok' && d.failures === 0 ? 0 : 2;
    };
    candidates.sort((a, b) => score(a) - score(b) || a.name.localeCompare(b.name));
    // Droplets failing this leader's probes are asked only when no other is left: one that
    // cannot answer would only make the round short of the answers a verdict needs.
    const usable = candidates.filter((n) => score(n) < 2);
    return (usable.length > 0 ? usable : candidates).slice(0, config.indirectProbers);
  }

  async function ask(droplet: number, round: number, nodes: Map<number, NodeAddress>): Promise<void> {
    const target = nodes.get(droplet);
    const probers = target ? probersFor(droplet, nodes) : [];
    feed({ kind: 'asked', droplet, round, asked: probers.length }, nodes);
    await Promise.all(
      probers.map(async (p) => {
        const answer = await deps.indirect(p.address, { host: (target as NodeAddress).address, port: config.kubeletPort, timeoutMs: config.timeoutMs }, signal);
        if (signal?.aborted) return;
        metrics.indirect.inc({ answer });
        feed({ kind: 'indirect', droplet, round, answer }, directory());
      }),
    );
  }

  /**
   * Witnesses: the nodes asked first for indirect probes, probed so the guard has a baseline.
   * Ready ones whose node Lease is not quiet: droplets that died earlier would fail a new
   * leader's probes and hold the guard against it, or leave its rounds short of answers.
   */
  function witnesses(nodes: Map<number, NodeAddress>, probed: Set<number>): void {
    const others = [...nodes.values()].filter((n) => n.ready && !quiet.has(n.dropletId) && n.name !== config.selfNode && !probed.has(n.dropletId) && map.get(n.dropletId)?.phase !== 'dead').sort((a, b) => a.name.localeCompare(b.name));
    for (const n of others.slice(0, config.indirectProbers)) probed.add(n.dropletId);
  }

  async function probeOne(droplet: number, address: string): Promise<void> {
    const sentMs = deps.now();
    const r = await deps.probe(address, config.kubeletPort, config.timeoutMs, signal);
    if (signal?.aborted) return;
    metrics.probes.inc({ result: r.reached ? 'reached' : 'failed' });
    if (r.reached) {
      if (r.rttMs !== undefined) metrics.rttSeconds.observe(r.rttMs / 1000);
      lastReachedSent.set(droplet, Math.max(sentMs, lastReachedSent.get(droplet) ?? sentMs));
    } else if (sentMs < (lastReachedSent.get(droplet) ?? -Infinity)) return; // a later probe already answered
    if (!map.has(droplet) && !r.reached) return; // forgotten while in flight
    feed({ kind: 'direct', droplet, ok: r.reached, sentMs }, directory());
  }

  function tick(): void {
    if (!signal || signal.aborted) return;
    const nodes = directory();
    quiet = deps.quiet?.() ?? new Set<number>();
    detectorConfig = { failuresToSuspect: config.failuresToSuspect, quiet };
    const probed = new Set<number>();
    const targets = new Set<number>();
    for (const id of deps.targets()) if (nodes.has(id)) targets.add(id);
    for (const id of targets) probed.add(id);
    witnesses(nodes, probed);
    // Dead droplets stay probed while they are nodes: a revival is news, and a dead node
    // that still looks Ready must not be chosen as a target again.
    for (const [id, d] of map) if (d.phase === 'dead' && nodes.has(id)) probed.add(id);
    let forgot = false;
    for (const id of map.keys()) {
      if (probed.has(id)) continue;
      forgot ||= map.get(id)?.phase === 'dead';
      feed({ kind: 'forget', droplet: id }, nodes);
      lastReachedSent.delete(id);
    }
    if (forgot) changed();
    for (const id of probed) {
      const fresh = !map.has(id);
      if (fresh) map = new Map(map).set(id, { phase: 'ok', failures: 0, rounds: 0 });
      void probeOne(id, (nodes.get(id) as NodeAddress).address);
      // a holder or next target first seen in this term: ask its agents at the same time
      if (fresh && targets.has(id)) feed({ kind: 'inherit', droplet: id }, nodes);
    }
    metrics.probed.set(probed.size);
    metrics.guard.set(guarded(map, quiet) ? 1 : 0);
    cancelTick = deps.setTimer(tick, config.intervalMs);
  }

  return {
    start(s) {
      cancelTick?.();
      signal = s;
      map = new Map();
      lastReachedSent.clear();
      if (deadSet.size > 0) {
        deadSet = new Map();
        deps.onChange(deadSet);
      }
      s.addEventListener('abort', () => {
        if (signal !== s) return;
        cancelTick?.();
        map = new Map();
        if (deadSet.size > 0) {
          deadSet = new Map();
          deps.onChange(deadSet); // a later term judges afresh
        }
        metrics.probed.set(0);
        metrics.guard.set(0);
      }, { once: true });
      tick();
    },
    probeNow() {
      if (!signal || signal.aborted) return;
      cancelTick?.();
      tick();
    },
    dead: () => deadSet,
    state: () => map,
  };
}
