// Typed single operations over the endpoint factories: each one request (or one paginated
// walk), mapped from the wire to floatip's ReservedIp. The retry policy lives in call.ts,
// the assign/unassign flow in moves.ts.
import { modules } from 'dots-wrapper';
import type { IContext, IListResponse } from 'dots-wrapper/dist/types/index.js';
import { parseAddress } from '../addresses.ts';
import type { ReservedAddress } from '../addresses.ts';
import { callDo } from './call.ts';
import type { CallDeps, Operation } from './call.ts';
import { ROUTES, reservedIp, reservedIpv6 } from './endpoints.ts';
import type { ActionBody, WireAction, WireDroplet, WireReservedIp, WireReservedIpv6 } from './endpoints.ts';
import { DoApiError } from './port.ts';
import type { Account, IpFamily, ReservedIp } from './port.ts';

const READ = 'reserved_ip:read and droplet:read';
const UPDATE = 'reserved_ip:update and droplet:read';

/** A walk that never ends means a broken `links.pages.next`; stop rather than loop. */
const MAX_PAGES = 1000;

export interface Operations {
  getAccount(): Promise<Account>;
  listFamily(family: IpFamily): Promise<ReservedIp[]>;
  get(addr: ReservedAddress): Promise<ReservedIp>;
  /** POST an action; a 422 is thrown as DoApiError (status 422) for moves.ts to explain */
  postAction(addr: ReservedAddress, body: ActionBody): Promise<WireAction>;
  /** status of an action: per-IP route for IPv4, /v2/actions/{id} for IPv6 (none per IP upstream) */
  actionStatus(addr: ReservedAddress, actionId: number): Promise<string | undefined>;
}

export function createOperations(ctx: IContext, deps: CallDeps, pageSize: number): Operations {
  const account = modules.account.getAccount(ctx);
  const getAction = modules.action.getAction(ctx);
  const v4 = {
    list: reservedIp.listReservedIps(ctx),
    get: reservedIp.getReservedIp(ctx),
    post: reservedIp.postReservedIpAction(ctx),
    action: reservedIp.getReservedIpAction(ctx),
  };
  const v6 = {
    list: reservedIpv6.listReservedIpv6s(ctx),
    get: reservedIpv6.getReservedIpv6(ctx),
    post: reservedIpv6.postReservedIpv6Action(ctx),
  };
  const ipOp = (addr: ReservedAddress, method: 'GET' | 'POST', v4Route: Operation['route'], v6Route: Operation['route'], scopes: string): Operation => ({
    method,
    route: addr.family === 4 ? v4Route : v6Route,
    subject: `reserved ${addr.family === 4 ? 'IP' : 'IPv6'} ${addr.text}`,
    scopes,
  });

  return {
    async getAccount() {
      const op: Operation = { method: 'GET', route: ROUTES.account, subject: 'the account', scopes: 'account:read' };
      const { data } = await callDo(deps, op, account);
      const a = data.account;
      return { uuid: String(a?.uuid ?? ''), email: String(a?.email ?? ''), status: String(a?.status ?? '') };
    },

    async listFamily(family) {
      const op: Operation = {
        method: 'GET',
        route: family === 4 ? ROUTES.ipv4List : ROUTES.ipv6List,
        subject: `the reserved IPv${family} list`,
        scopes: READ,
      };
      const out: ReservedIp[] = [];
      let page = 1;
      for (let pages = 1; pages <= MAX_PAGES; pages++) {
        const query = { page, per_page: pageSize };
        const next =
          family === 4
            ? collect(await callDo(deps, op, () => v4.list(query)), (d) => d.reserved_ips, fromV4, out)
            : collect(await callDo(deps, op, () => v6.list(query)), (d) => d.reserved_ipv6s, fromV6, out);
        if (next === undefined || next <= page) return out;
        page = next;
      }
      throw new DoApiError('Transient', `GET ${op.route}: more than ${MAX_PAGES} pages; the pagination links look broken`);
    },

    async get(addr) {
      const op = ipOp(addr, 'GET', ROUTES.ipv4, ROUTES.ipv6, READ);
      const ip =
        addr.family === 4
          ? fromV4((await callDo(deps, op, () => v4.get({ ip: addr.text }))).data.reserved_ip)
          : fromV6((await callDo(deps, op, () => v6.get({ ip: addr.text }))).data.reserved_ipv6);
      if (ip === null) throw new DoApiError('Transient', `GET ${op.route}: DigitalOcean answered without a ${op.subject} object`);
      return ip;
    },

    async postAction(addr, body) {
      const op: Operation = {
        ...ipOp(addr, 'POST', ROUTES.ipv4Actions, ROUTES.ipv6Actions, UPDATE),
        ...(body.type === 'assign' ? { notFound: `reserved IP ${addr.text} or droplet ${body.droplet_id}` } : {}),
      };
      const send = () => (addr.family === 4 ? v4.post({ ip: addr.text, body }) : v6.post({ ip: addr.text, body }));
      return (await callDo(deps, op, send)).data.action ?? {};
    },

    async actionStatus(addr, actionId) {
      if (addr.family === 4) {
        const op = ipOp(addr, 'GET', ROUTES.ipv4Action, ROUTES.ipv4Action, 'reserved_ip:read');
        return (await callDo(deps, op, () => v4.action({ ip: addr.text, action_id: actionId }))).data.action?.status;
      }
      const op: Operation = { method: 'GET', route: ROUTES.action, subject: `action ${actionId}`, scopes: 'actions:read' };
      return (await callDo(deps, op, () => getAction({ action_id: actionId }))).data.action?.status;
    },
  };
}

/** Append one page's IPs to `out`; returns the next page number from `links.pages.next`. */
function collect<D extends IListResponse, W>(
  answer: { data: D },
  items: (d: D) => W[] | undefined,
  map: (w: W) => ReservedIp | null,
  out: ReservedIp[],
): number | undefined {
  for (const wire of items(answer.data) ?? []) {
    const ip = map(wire);
    if (ip !== null) out.push(ip);
  }
  return pageOf(answer.data.links?.pages?.next);
}

function pageOf(link: string | undefined): number | undefined {
  if (link === undefined) return undefined;
  const page = Number(new URL(link, 'http://placeholder.invalid').searchParams.get('page'));
  return Number.isInteger(page) && page > 0 ? page : undefined;
}

function fromV4(w: WireReservedIp | undefined): ReservedIp | null {
  const addr = w?.ip === undefined ? null : parseAddress(w.ip);
  if (!w || addr?.family !== 4) return null;
  return { ip: addr.text, family: 4, region: w.region?.slug ?? '', dropletId: holder(w.droplet), locked: w.locked === true };
}

function fromV6(w: WireReservedIpv6 | undefined): ReservedIp | null {
  const addr = w?.ip === undefined ? null : parseAddress(w.ip);
  if (!w || addr?.family !== 6) return null;
  return { ip: addr.text, family: 6, region: w.region_slug ?? '', dropletId: holder(w.droplet), locked: w.locked === true };
}

/** DigitalOcean shows "unassigned" as `droplet: null` (the spec's nullable object also allows `{}`). */
function holder(d: WireDroplet | null | undefined): number | null {
  return typeof d?.id === 'number' ? d.id : null;
}
