// Node Leases (kube-node-lease) as the plain heartbeats plan() reads. The kubelet renews its
// Lease every 10 s with a 40 s duration; times are read on this process's clock, so replicas
// assume NTP-synced clocks, as leader election does.
import type { V1Lease } from '@kubernetes/client-node';
import type { Heartbeat } from './model.ts';

/** The client does not deserialize MicroTime: it arrives as a string (or a Date if set locally). */
const timeMs = (t: unknown): number | undefined => {
  if (t === undefined || t === null) return undefined;
  const ms = new Date(t as string | Date).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

export function heartbeatOf(lease: V1Lease): Heartbeat | undefined {
  const renewMs = timeMs(lease.spec?.renewTime) ?? timeMs(lease.spec?.acquireTime);
  const seconds = lease.spec?.leaseDurationSeconds;
  if (renewMs === undefined || seconds === undefined || seconds <= 0) return undefined;
  return { renewMs, durationMs: seconds * 1000 };
}

export interface HeartbeatCache {
  /** when this Lease turns stale (Infinity when it says nothing) */
  staleAt(lease: V1Lease, graceMs?: number): number;
}

export function createHeartbeatCache(): HeartbeatCache {
  const parsed = new WeakMap<V1Lease, Heartbeat | null>();
  const parse = (lease: V1Lease): Heartbeat | undefined => {
    let h = parsed.get(lease);
    if (h === undefined) {
      h = heartbeatOf(lease) ?? null;
      parsed.set(lease, h);
    }
    return h ?? undefined;
  };
  return {
    staleAt(lease, graceMs) {
      const h = parse(lease);
      return h === undefined ? Infinity : h.renewMs + (graceMs ?? h.durationMs / 2);
    },
  };
}
