// The node Leases (kube-node-lease) as the heartbeats plan() reads, kept from the Lease events
// so no run reads the Lease list. Says which node just came back from a silence: only that
// node's IPs need another look.
import type { V1Lease } from '@kubernetes/client-node';
import { heartbeatOf, staleAt } from '../heartbeats.ts';
import type { Heartbeat } from '../model.ts';

export interface LeaseCache {
  heartbeats(): ReadonlyMap<string, Heartbeat>;
  /** hold exactly these Leases (a term's start) */
  sync(leases: readonly V1Lease[]): void;
  /** a Lease event; returns the node's name when it heartbeats again after being stale */
  changed(lease: V1Lease | undefined, old: V1Lease | undefined, nowMs: number): string | undefined;
}

export function createLeaseCache(config: { readonly enabled: boolean; readonly graceMs?: number | undefined }): LeaseCache {
  /** node name → its heartbeat */
  const leases = new Map<string, Heartbeat>();
  return {
    heartbeats: () => leases,
    sync(list) {
      leases.clear();
      for (const lease of list) {
        const h = heartbeatOf(lease);
        if (h && lease.metadata?.name) leases.set(lease.metadata.name, h);
      }
    },
    changed(lease, old, nowMs) {
      const name = (lease ?? old)?.metadata?.name;
      if (!name || !config.enabled) return undefined;
      const before = leases.get(name);
      const h = lease && heartbeatOf(lease);
      if (h) leases.set(name, h);
      else leases.delete(name);
      const wasStale = before !== undefined && staleAt(before, config.graceMs) < nowMs;
      return wasStale ? name : undefined;
    },
  };
}
