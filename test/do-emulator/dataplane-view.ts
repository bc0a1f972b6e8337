// What a packet-level stand-in for DigitalOcean's network needs to know (test/dataplane): who
// holds each reserved IP, each droplet's tags and anchor, the cloud firewalls, and the IP
// actions with millisecond times. Served at GET /_emulator/dataplane as a long poll: with
// `?after=<version>` the answer waits (up to `wait` ms) until the view differs from that
// version, so the lab learns that an action completed the moment the emulator completes it.
import type { EmulatorState } from './state.ts';

export interface DataplaneView {
  /** increases whenever anything below changes */
  readonly version: number;
  /** reserved IP (IPv4 and IPv6) → holder droplet id, null when unassigned */
  readonly holders: Record<string, number | null>;
  readonly droplets: readonly { readonly id: number; readonly tags: readonly string[]; readonly anchorIpv4: string | null }[];
  readonly firewalls: readonly {
    readonly id: string;
    readonly name: string;
    readonly tags: readonly string[];
    readonly dropletIds: readonly number[];
    readonly inboundRules: readonly { protocol: string; ports: string; sources?: { addresses?: string[]; tags?: string[]; droplet_ids?: number[] } }[];
  }[];
  /** epoch ms on the emulator's clock; completedAt null while in progress */
  readonly actions: readonly { readonly id: number; readonly ip: string; readonly type: string; readonly toDropletId: number | null; readonly startedAt: number; readonly completedAt: number | null; readonly status: string }[];
}

export function dataplaneFacts(state: EmulatorState): Omit<DataplaneView, 'version'> {
  return {
    holders: Object.fromEntries([...state.addresses.values()].map((a) => [a.ip, a.dropletId])),
    droplets: [...state.droplets.values()].map((d) => ({ id: d.id, tags: [...d.tags], anchorIpv4: d.anchorIpv4 })),
    firewalls: [...state.firewalls.byId.values()].map((f) => ({
      id: f.id,
      name: f.name,
      tags: [...f.tags],
      dropletIds: [...f.dropletIds],
      inboundRules: structuredClone(f.inboundRules),
    })),
    actions: [...state.actions.values()].map((a) => ({
      id: a.id, ip: a.ip, type: a.type, toDropletId: a.toDropletId, startedAt: a.startedAt, completedAt: a.completedAt, status: a.status,
    })),
  };
}

/** Versions the view: `changed()` after anything that may have mutated state; waiters wake on a real change. */
export class DataplaneFeed {
  private readonly state: EmulatorState;
  private version = 1;
  private last = '';
  /** nobody has asked yet: changes are not compared (the benchmarks' emulators pay nothing) */
  private watched = false;
  private readonly waiters = new Set<() => void>();

  constructor(state: EmulatorState) {
    this.state = state;
  }

  changed(): void {
    if (!this.watched) return;
    const now = JSON.stringify(dataplaneFacts(this.state));
    if (now === this.last) return;
    this.last = now;
    this.version++;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  view(): DataplaneView {
    return { version: this.version, ...(JSON.parse(this.last) as Omit<DataplaneView, 'version'>) };
  }

  /** Resolves with the view once its version differs from `after`, or after `waitMs` regardless. */
  async next(after: number, waitMs: number): Promise<DataplaneView> {
    if (!this.watched) {
      this.watched = true;
      this.last = JSON.stringify(dataplaneFacts(this.state));
    }
    if (after !== this.version) return this.view();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, waitMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.add(done);
    });
    return this.view();
  }

  /** wakes every waiter (the server is closing) */
  close(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }
}
