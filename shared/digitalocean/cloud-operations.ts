// CloudPort over dots-wrapper's droplet and firewall modules, through the same retrying call
// machinery (call.ts) and rate budget as the reserved-IP calls.
//
// A FirewallRule carries addresses and tags only: a rule's droplet_ids, load_balancer_uids
// and kubernetes_ids targets are not represented, so reading a firewall and writing it back
// with updateFirewall drops them. floatip only writes firewalls it owns.
import { modules } from 'dots-wrapper';
import type { IContext } from 'dots-wrapper/dist/types/index.js';
import { pause } from './abort.ts';
import { callDo } from './call.ts';
import type { CallDeps, Operation } from './call.ts';
import { ROUTES } from './endpoints.ts';
import { bind } from './operations.ts';
import { allPages } from './pages.ts';
import { DoApiError, isAbort } from './port.ts';
import type { CloudPort, Droplet, Firewall, FirewallRule, FirewallSpec } from './port.ts';
import { backoffMs } from './retry.ts';

interface WireTarget {
  readonly addresses?: unknown;
  readonly tags?: unknown;
}

interface WireRule {
  readonly protocol?: unknown;
  readonly ports?: unknown;
  readonly sources?: WireTarget;
  readonly destinations?: WireTarget;
}

interface WireFirewall {
  readonly id?: unknown;
  readonly name?: unknown;
  readonly status?: unknown;
  readonly tags?: unknown;
  readonly droplet_ids?: unknown;
  readonly inbound_rules?: readonly WireRule[] | null;
  readonly outbound_rules?: readonly WireRule[] | null;
}

interface WireDropletFull {
  readonly id?: unknown;
  readonly name?: unknown;
  readonly tags?: unknown;
}

/** A firewall id goes into a URL path as it is: DigitalOcean's are UUIDs. */
const FIREWALL_ID = /^[A-Za-z0-9-]{1,64}$/;

export function createCloudOperations(ctx: IContext, deps: CallDeps, pageSize: number): CloudPort {
  const droplet = bind(ctx, modules.droplet.getDroplet);
  const fw = {
    list: bind(ctx, modules.firewall.listFirewalls),
    create: bind(ctx, modules.firewall.createFirewall),
    update: bind(ctx, modules.firewall.updateFirewall),
    remove: bind(ctx, modules.firewall.deleteFirewall),
  };
  const firewallOp = (method: Operation['method'], id: string | undefined, scope: string, subject?: string): Operation => ({
    method,
    route: id === undefined ? ROUTES.firewallList : ROUTES.firewall,
    subject: subject ?? (id === undefined ? 'the firewall list' : `firewall ${id}`),
    scopes: `${scope} and droplet:read`,
  });

  async function listFirewalls(signal?: AbortSignal): Promise<Firewall[]> {
    const op = firewallOp('GET', undefined, 'firewall:read');
    return allPages(op.route, (page) => callDo(deps, op, (s) => fw.list(s, { page, per_page: pageSize }), signal), (d) => d.firewalls as WireFirewall[] | undefined, fromWireFirewall);
  }

  return {
    async getDroplet(id, opts) {
      if (!Number.isSafeInteger(id) || id <= 0) throw new DoApiError('Terminal', `droplet id must be a positive integer, got ${id}`);
      const op: Operation = { method: 'GET', route: ROUTES.droplet, subject: `droplet ${id}`, scopes: 'droplet:read' };
      const { data } = await callDo(deps, op, (s) => droplet(s, { droplet_id: id }), opts?.signal);
      const d = fromWireDroplet(data.droplet as WireDropletFull | undefined);
      if (d === null) throw new DoApiError('Transient', `GET ${op.route}: DigitalOcean answered without a droplet object`);
      return d;
    },

    listFirewalls: (opts) => listFirewalls(opts?.signal),

    /**
     * POST is not retried blindly: after a lost answer (timeout, reset, 5xx) the firewalls are
     * listed, and one with the same name is taken as the one this call created.
     */
    async createFirewall(spec, opts) {
      const signal = opts?.signal;
      const op = firewallOp('POST', undefined, 'firewall:create', `firewall ${spec.name}`);
      const body = toWire(spec);
      for (let attempt = 1; ; attempt++) {
        try {
          const { data } = await refusalIsTerminal(callDo(deps, op, (s) => fw.create(s, body as never), signal));
          return answered(op, data.firewall as WireFirewall | undefined);
        } catch (err) {
          if (!(err instanceof DoApiError) || err.errorClass !== 'Transient') throw err;
          let existing;
          try {
            existing = (await listFirewalls(signal)).find((f) => f.name === spec.name);
          } catch (readErr) {
            if (isAbort(readErr) || !(readErr instanceof DoApiError)) throw readErr;
            throw new DoApiError('Transient', `${err.message}; whether firewall ${spec.name} was created is unknown, because listing the firewalls failed too: ${readErr.message}`, { status: err.status, cause: readErr });
          }
          if (existing !== undefined) {
            deps.logger?.info({ firewall: existing.id, name: spec.name }, 'firewall was created although the answer was lost');
            return existing;
          }
          if (attempt >= deps.policy.maxAttempts) throw err;
          await pause(deps.sleep, backoffMs(attempt - 1, deps.policy, deps.random), signal);
        }
      }
    },

    async updateFirewall(id, spec, opts) {
      const op = firewallOp('PUT', checkedId(id), 'firewall:update');
      const { data } = await refusalIsTerminal(callDo(deps, op, (s) => fw.update(s, { ...toWire(spec), id } as never), opts?.signal));
      return answered(op, data.firewall as WireFirewall | undefined);
    },

    async deleteFirewall(id, opts) {
      const op = firewallOp('DELETE', checkedId(id), 'firewall:delete');
      try {
        await callDo(deps, op, (s) => fw.remove(s, { firewall_id: id }), opts?.signal);
      } catch (err) {
        // Already gone (or a retried DELETE whose first try was applied): the goal is reached.
        if (err instanceof DoApiError && err.errorClass === 'NotFound') return;
        throw err;
      }
    },
  };
}

/**
 * The shared classification makes a 422 InProgress, because a reserved-IP 422 is re-read
 * and explained (moves.ts). On a firewall it is a refusal of the firewall itself (ports,
 * limits, unknown tags): retrying the same body cannot help, a person must change it.
 */
async function refusalIsTerminal<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof DoApiError && err.status === 422) {
      throw new DoApiError('Terminal', err.message, { status: 422, doId: err.doId, requestId: err.requestId, cause: err });
    }
    throw err;
  }
}

function checkedId(id: string): string {
  if (!FIREWALL_ID.test(id)) throw new DoApiError('Terminal', `"${id.slice(0, 80)}" is not a DigitalOcean firewall id`);
  return id;
}

function answered(op: Operation, w: WireFirewall | undefined): Firewall {
  const firewall = fromWireFirewall(w);
  if (firewall === null) throw new DoApiError('Transient', `${op.method} ${op.route}: DigitalOcean answered without a firewall object`);
  return firewall;
}

function toWire(spec: FirewallSpec) {
  const rule = (r: FirewallRule, side: 'sources' | 'destinations') => ({
    protocol: r.protocol,
    // DigitalOcean shows "all ports" as "0" but refuses "0" in a request: send "all".
    ports: r.protocol !== 'icmp' && r.ports === '0' ? 'all' : r.ports,
    [side]: { addresses: [...r.addresses], ...(r.tags === undefined || r.tags.length === 0 ? {} : { tags: [...r.tags] }) },
  });
  return {
    name: spec.name,
    inbound_rules: spec.inbound.map((r) => rule(r, 'sources')),
    outbound_rules: spec.outbound.map((r) => rule(r, 'destinations')),
    tags: [...spec.tags],
    droplet_ids: [...spec.dropletIds],
  };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function fromWireRule(w: WireRule, side: 'sources' | 'destinations'): FirewallRule | null {
  if (w.protocol !== 'tcp' && w.protocol !== 'udp' && w.protocol !== 'icmp') return null;
  const target = w[side];
  const tags = strings(target?.tags);
  return { protocol: w.protocol, ports: typeof w.ports === 'string' ? w.ports : '0', addresses: strings(target?.addresses), ...(tags.length === 0 ? {} : { tags }) };
}

function fromWireFirewall(w: WireFirewall | undefined): Firewall | null {
  if (w === undefined || typeof w.id !== 'string' || typeof w.name !== 'string') return null;
  const rules = (list: readonly WireRule[] | null | undefined, side: 'sources' | 'destinations') =>
    (list ?? []).map((r) => fromWireRule(r, side)).filter((r): r is FirewallRule => r !== null);
  return {
    id: w.id,
    name: w.name,
    status: typeof w.status === 'string' ? w.status : '',
    inbound: rules(w.inbound_rules, 'sources'),
    outbound: rules(w.outbound_rules, 'destinations'),
    tags: strings(w.tags),
    dropletIds: Array.isArray(w.droplet_ids) ? w.droplet_ids.filter((d): d is number => Number.isSafeInteger(d)) : [],
  };
}

function fromWireDroplet(w: WireDropletFull | undefined): Droplet | null {
  if (w === undefined || typeof w.id !== 'number' || typeof w.name !== 'string') return null;
  return { id: w.id, name: w.name, tags: strings(w.tags) };
}
