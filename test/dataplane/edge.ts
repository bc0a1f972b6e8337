// DigitalOcean's edge as a namespace: the client's link (inet0) on one side, the droplets'
// public network (bridge pub0, with the anchor network's gateway) on the other. It follows
// the emulator through its dataplane long poll: every change of holders or firewalls
// reloads the nft table (edge-rules.ts) and the reserved IPv6 routes, and conntrack entries
// of a reserved IPv4 that moved are deleted, as DigitalOcean's NAT forgets the old holder.
import type { DataplaneView } from '../do-emulator/dataplane-view.ts';
import { CLIENT, EDGE } from './addresses.ts';
import type { LabDroplet } from './droplet.ts';
import { CLIENT_LINK, DROPLET_BRIDGE, EDGE_TABLE, edgeRuleset, ipv6Routes, movedIpv4s } from './edge-rules.ts';
import type { EdgeDroplet } from './edge-rules.ts';
import { inNs, ip, nft, sysctl } from './netns.ts';

export interface EdgeChange {
  /** epoch ms when the edge had applied this view */
  readonly appliedAt: number;
  readonly holders: Record<string, number | null>;
}

export interface Edge {
  readonly ns: string;
  /** the last view the edge has applied */
  view(): DataplaneView;
  /** every view applied, in order */
  readonly history: readonly EdgeChange[];
  setDroplets(droplets: readonly LabDroplet[]): Promise<void>;
  /** once the edge routes `ip` to `dropletId`: the view that began routing it there (when it was applied) */
  untilHolder(ip: string, dropletId: number | null, timeoutMs?: number): Promise<EdgeChange>;
  /** packets the edge dropped on their way to this droplet (no cloud firewall allowed them) */
  firewallDrops(dropletId: number): Promise<number>;
  stop(): Promise<void>;
}

async function fetchView(emulatorUrl: string, after: number, signal: AbortSignal): Promise<DataplaneView> {
  const res = await fetch(`${emulatorUrl}/_emulator/dataplane?after=${after}&wait=25000`, { signal });
  if (!res.ok) throw new Error(`GET /_emulator/dataplane → ${res.status}`);
  return (await res.json()) as DataplaneView;
}

export async function startEdge(opts: { ns: string; emulatorUrl: string }): Promise<Edge> {
  const { ns } = opts;
  await ip(
    ns,
    'link set lo up',
    `addr add ${CLIENT.gateway4}/24 dev ${CLIENT_LINK}`,
    `addr add ${CLIENT.gateway6}/64 dev ${CLIENT_LINK} nodad`,
    `link set ${CLIENT_LINK} up`,
    `link add ${DROPLET_BRIDGE} type bridge`,
    `addr add ${EDGE.public4}/${EDGE.publicPrefix4} dev ${DROPLET_BRIDGE}`,
    `addr add ${EDGE.anchorGateway}/${EDGE.anchorPrefix} dev ${DROPLET_BRIDGE}`,
    `addr add ${EDGE.public6}/${EDGE.prefix6} dev ${DROPLET_BRIDGE} nodad`,
    `link set ${DROPLET_BRIDGE} up`,
  );
  await sysctl(ns, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');

  const abort = new AbortController();
  let view = await fetchView(opts.emulatorUrl, 0, abort.signal);
  let applied = view;
  let droplets: EdgeDroplet[] = [];
  let appliedHolders: Record<string, number | null> = {};
  const history: EdgeChange[] = [];
  const listeners = new Set<() => void>();

  // One apply at a time: the loop and setDroplets both go through this chain.
  let chain = Promise.resolve();
  const apply = () =>
    (chain = chain.then(async () => {
      const v = view;
      await nft(ns, edgeRuleset(v, droplets));
      for (const r of ipv6Routes(v, droplets)) {
        await ip(ns, r.via === null ? `route replace unreachable ${r.ip}/128` : `route replace ${r.ip}/128 via ${r.via} dev ${DROPLET_BRIDGE}`);
      }
      for (const moved of movedIpv4s(appliedHolders, v.holders)) {
        // exit status 1 when there was no entry: fine
        await inNs(ns, 'conntrack', ['-D', '--orig-dst', moved]).catch(() => undefined);
      }
      appliedHolders = v.holders;
      applied = v;
      history.push({ appliedAt: performance.timeOrigin + performance.now(), holders: v.holders });
      for (const l of listeners) l();
    }));
  await apply();

  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        const next = await fetchView(opts.emulatorUrl, view.version, abort.signal);
        if (next.version === view.version) continue;
        view = next;
        await apply();
      } catch {
        if (abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();

  return {
    ns,
    view: () => applied,
    history,
    async setDroplets(list) {
      droplets = list.map((d) => ({ id: d.id, anchor: d.anchor, public4: d.public4, public6: d.public6 }));
      await apply();
    },
    untilHolder(address, dropletId, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          // the first of the trailing run of views that route `address` to `dropletId`
          let k = history.length;
          while (k > 0 && history[k - 1]?.holders[address] === dropletId) k--;
          const hit = history[k];
          if (hit) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`the edge never routed ${address} to droplet ${dropletId} within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async firewallDrops(dropletId) {
      const out = JSON.parse(await inNs(ns, 'nft', ['-j', 'list', 'chain', 'inet', EDGE_TABLE, `droplet_${dropletId}`])) as {
        nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
      };
      let packets = 0;
      for (const item of out.nftables) for (const e of item.rule?.expr ?? []) packets += e.counter?.packets ?? 0;
      return packets;
    },
    async stop() {
      abort.abort();
      await loop;
      await chain;
    },
  };
}
