// Node Leases (kube-node-lease) as the plain heartbeats plan() reads. The kubelet renews its
// Lease every 10 s with a 40 s duration; times are read on this process's clock, so replicas
// assume NTP-synced clocks, as leader election does.
import type { V1Lease } from '@kubernetes/client-node';
import type { Heartbeat } from './model.ts';

/** The client does not deserialize MicroTime: it arrives as a string (or a Date if set locally). */
export const timeMs = (t: unknown): number | undefined => {
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

/** When a heartbeat turns (or turned) stale: its renewal plus the grace, by default half its duration. */
export function staleAt(h: Heartbeat, graceMs: number | undefined): number {
  return h.renewMs + (graceMs ?? h.durationMs / 2);
}
