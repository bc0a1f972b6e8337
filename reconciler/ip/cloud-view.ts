// What this term knows of DigitalOcean beyond the informers: the holder of every reserved IP
// (one paginated list, refreshed by resync and after a Conflict; one read of an IP whose
// holder may have changed), droplet tags (the claim policy asks whether a holder is ours),
// and the cluster's identity — the `k8s:<uuid>` tag of its worker droplets — which the
// firewall controller reads from here too. Per term: a new leader starts from a full list.
import { DoApiError } from '../../shared/digitalocean/port.ts';
import type { CallOptions, ReservedIpPort } from '../../shared/digitalocean/port.ts';
import type { Logger } from '../../shared/logger.ts';
import type { ClaimView } from '../claims.ts';
import { clusterTag, learnClusterUuid } from '../cluster-identity.ts';
import { pendingOf } from '../ip-state.ts';
import type { IpMemory, Outcome } from '../ip-state.ts';
import type { Family, HolderFacts } from '../model.ts';

/** The droplet tags of one droplet (the CloudPort's getDroplet satisfies it). */
export interface DropletReader {
  getDroplet(id: number, opts?: CallOptions): Promise<{ readonly id: number; readonly tags: readonly string[] }>;
}

/** The per-IP memory, as the cloud view feeds it (the IP controller owns it). */
export interface IpRecords {
  get(ip: string): IpMemory | undefined;
  record(ip: string, outcome: Outcome): void;
  entries(): Iterable<[string, IpMemory]>;
}

export interface CloudViewDeps {
  readonly port: ReservedIpPort;
  /** droplet tags; none: unknown (every non-node holder counts as outside the cluster) */
  readonly droplets?: DropletReader | undefined;
  readonly claims: ClaimView;
  readonly records: IpRecords;
  readonly logger: Logger;
  readonly now: () => number;
  /** the term's signal: every read carries it */
  readonly signal: AbortSignal;
}

export interface CloudView {
  /** the holders may have changed behind our back (a Conflict): list them before the next plan */
  markHoldersStale(): void;
  /** list every reserved IP (paginated) and record the holders; concurrent callers share one list */
  refreshHolders(): Promise<void>;
  /** the list, if the holders are stale */
  refreshIfStale(): Promise<void>;
  /** before planning `ip`: a fresh holder where it may have changed, and the droplet tags */
  refresh(ip: string): Promise<void>;
  dropletTags(): ReadonlyMap<number, readonly string[]>;
  /** `k8s:<uuid>` of this cluster, once learnt */
  clusterTag(): string | undefined;
  /** the cluster's UUID from its nodes' droplet tags (cached); undefined: no node tells it */
  clusterUuid(): Promise<string | undefined>;
}

/** how long droplet tags are trusted before they are read again */
const DROPLET_TAGS_TTL_MS = 5 * 60_000;

const holderOf = (r: { family: Family; dropletId: number | null; locked: boolean }): HolderFacts => ({ family: r.family, dropletId: r.dropletId, locked: r.locked });

export function createCloudView(deps: CloudViewDeps): CloudView {
  const { records, signal, now } = deps;
  const tags = new Map<number, { tags: readonly string[]; atMs: number }>();
  let uuid: string | undefined;
  let stale = true;
  let listing: Promise<void> | undefined;

  async function list(): Promise<void> {
    const started = now();
    const all = await deps.port.listReservedIps({ signal });
    if (signal.aborted) return;
    const listed = new Set(all.map((r) => r.ip));
    for (const r of all) records.record(r.ip, { kind: 'observed', holder: holderOf(r), readStartedMs: started });
    for (const [ip, m] of [...records.entries()]) if (!listed.has(ip) && m.holder) records.record(ip, { kind: 'observed', holder: null, readStartedMs: started });
    stale = false;
  }

  function refreshHolders(): Promise<void> {
    listing ??= list().finally(() => (listing = undefined));
    return listing;
  }

  async function tagsOf(id: number): Promise<readonly string[] | undefined> {
    const reader = deps.droplets;
    if (!reader) return undefined;
    const known = tags.get(id);
    if (known && now() - known.atMs < DROPLET_TAGS_TTL_MS) return known.tags;
    try {
      const d = await reader.getDroplet(id, { signal });
      tags.set(id, { tags: d.tags, atMs: now() });
      return d.tags;
    } catch (err) {
      if (signal.aborted) throw err;
      // Unknown tags leave the droplet "outside": the safe side of the claim policy.
      if (!(err instanceof DoApiError && err.errorClass === 'NotFound')) deps.logger.warn({ droplet: id, err }, 'cannot read droplet tags; treating it as outside the cluster for now');
      tags.set(id, { tags: [], atMs: now() });
      return undefined;
    }
  }

  async function clusterUuid(): Promise<string | undefined> {
    if (uuid !== undefined) return uuid;
    const nodeDroplets = [...deps.claims.nodes()].flatMap((n) => (n.dropletId === null ? [] : [n.dropletId]));
    const found = await learnClusterUuid(nodeDroplets, tagsOf);
    if (found) {
      uuid = found.uuid;
      deps.logger.info({ cluster: found.uuid, droplet: found.droplet }, 'cluster UUID learnt from the droplet tags');
    }
    return uuid;
  }

  return {
    markHoldersStale: () => void (stale = true),
    refreshHolders,
    refreshIfStale: () => (stale ? refreshHolders() : Promise.resolve()),
    async refresh(ip) {
      if (stale) await refreshHolders();
      const mem = records.get(ip);
      if (mem?.holder === undefined || pendingOf(mem, now()) || mem.holder?.locked) {
        const started = now();
        try {
          const r = await deps.port.getReservedIp(ip, { signal });
          records.record(ip, { kind: 'observed', holder: holderOf(r), readStartedMs: started });
        } catch (err) {
          if (!(err instanceof DoApiError && err.errorClass === 'NotFound')) throw err;
          records.record(ip, { kind: 'observed', holder: null, readStartedMs: started }); // not in this account: the assign will say so
        }
      }
      if (!deps.droplets) return;
      await clusterUuid();
      const holder = records.get(ip)?.holder?.dropletId ?? null;
      if (holder !== null && !deps.claims.nodeOfDroplet(holder)) await tagsOf(holder);
    },
    dropletTags: () => new Map([...tags].map(([id, t]) => [id, t.tags])),
    clusterTag: () => (uuid === undefined ? undefined : clusterTag(uuid)),
    clusterUuid,
  };
}
