// What the plan statuses say to the operator, edge-triggered: the holder, unplaced and
// held-outside-cluster gauges, and one warn line per suspicion (heartbeat suspicions are also
// counted).
// Per term: `reset()` clears every series this term set.
import type { Logger } from '../../shared/logger.ts';
import type { ReconcilerMetrics } from '../metrics.ts';
import type { IpStatus } from '../model.ts';

export interface StatusGauges {
  /** DigitalOcean's holder of `ip` changed (from the per-IP memory) */
  holderChanged(ip: string, before: number | null | undefined, after: number | null | undefined): void;
  /** a plan status of `ip` */
  planned(status: IpStatus): void;
  /** the IPs that are unplaced now (a freed droplet may unblock them) */
  unplaced(): ReadonlySet<string>;
  reset(): void;
}

export function createStatusGauges(metrics: ReconcilerMetrics, log: Logger): StatusGauges {
  const unplaced = new Set<string>();
  const foreign = new Map<string, number>();
  /** IPs whose holder is suspected (missed heartbeat), to count each suspicion once */
  const suspected = new Set<string>();

  return {
    holderChanged(ip, before, after) {
      if (before === after) return;
      if (before != null) metrics.holder.remove({ ip, droplet: String(before) });
      if (after != null) metrics.holder.set({ ip, droplet: String(after) }, 1);
    },
    planned(status) {
      const { ip } = status;
      if (status.suspect && !suspected.has(ip)) {
        suspected.add(ip);
        if (status.suspect.why === 'unreachable') log.warn({ ip, node: status.suspect.node, droplet: status.holder }, 'holder droplet unreachable (liveness probes)');
        else {
          metrics.heartbeatSuspicions.inc();
          log.warn({ ip, node: status.suspect.node, droplet: status.holder }, 'holder node missed its heartbeat');
        }
      } else if (!status.suspect) suspected.delete(ip);
      if (status.state === 'unplaced') {
        unplaced.add(ip);
        metrics.unplaced.set({ ip }, 1);
      } else if (unplaced.delete(ip)) metrics.unplaced.set({ ip }, 0);
      const foreignHolder = foreign.get(ip);
      if (status.state === 'foreign' && status.holder !== null) {
        if (foreignHolder !== undefined && foreignHolder !== status.holder) metrics.heldOutsideCluster.remove({ ip, droplet: String(foreignHolder) });
        foreign.set(ip, status.holder);
        metrics.heldOutsideCluster.set({ ip, droplet: String(status.holder) }, 1);
      } else if (foreignHolder !== undefined) {
        foreign.delete(ip);
        metrics.heldOutsideCluster.remove({ ip, droplet: String(foreignHolder) });
      }
    },
    unplaced: () => unplaced,
    reset() {
      unplaced.clear();
      foreign.clear();
      suspected.clear();
      metrics.holder.reset();
      metrics.unplaced.reset();
      metrics.heldOutsideCluster.reset();
      metrics.queueDepth.set(0);
    },
  };
}
