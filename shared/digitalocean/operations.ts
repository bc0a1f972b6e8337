// Typed single operations over the endpoint factories: each one request (or one paginated
// walk), mapped from the wire to floatip's ReservedIp. The retry policy lives in call.ts,
// the assign/unassign flow in moves.ts.
import { modules } from 'dots-wrapper';
import type { IContext } from 'dots-wrapper/dist/types/index.js';
import { parseAddress } from '../addresses.ts';
import type { ReservedAddress } from '../addresses.ts';
import { callDo } from './call.ts';
import type { CallDeps, Operation, RawResponse } from './call.ts';
import { ROUTES, reservedIp, reservedIpv6 } from './endpoints.ts';
import type { ActionBody, WireAction, WireDroplet, WireReservedIp, WireReservedIpv6 } from './endpoints.ts';
import { allPages } from './pages.ts';
import { DoApiError } from './port.ts';
import type { Account, IpFamily, ReservedIp } from './port.ts';

const READ = 'reserved_ip:read and droplet:read';
const UPDATE = 'reserved_ip:update and droplet:read';

type Signal = AbortSignal | undefined;

export interface Operations {
  getAccount(signal: Signal): Promise<Account>;
  listFamily(family: IpFamily, signal: Signal): Promise<ReservedIp[]>;
  get(addr: ReservedAddress, signal: Signal): Promise<ReservedIp>;
  /**
   * POST an action; a 422 is thrown as DoApiError (status 422) for moves.ts to explain, a
   * Transient failure is not retried (DigitalOcean may have applied it).
   */
  postAction(addr: ReservedAddress, body: ActionBody, signal: Signal): Promise<WireAction>;
  /** status of an action: per-IP route for IPv4, /v2/actions/{id} for IPv6 (none per IP upstream) */
  actionStatus(addr: ReservedAddress, actionId: number, signal: Signal): Promise<string | undefined>;
  /** the latest actions of a reserved IPv4 (first page); IPv6 has no such list upstream */
  recentActions(addr: ReservedAddress, signal: Signal): Promise<WireAction[]>;
}

/**
 * dots-wrapper's factories take a context, not per-request options: each request gets a
 * context whose client adds its AbortSignal to the axios config.
 */
export function withSignal(ctx: IContext, signal: AbortSignal): IContext {
  const http = ctx.httpClient as unknown as Record<'get' | 'delete' | 'post' | 'put' | 'patch', (...args: unknown[]) => unknown>;
  const withConfig = (config: unknown) => ({ ...(config as object | undefined), signal });
  const client = {
    get: (url: string, config?: object) => http.get(url, withConfig(config)),
    delete: (url: string, config?: object) => http.delete(url, withConfig(config)),
    post: (url: string, data?: unknown, config?: object) => http.post(url, data, withConfig(config)),
    put: (url: string, data?: unknown, config?: object) => http.put(url, data, withConfig(config)),
    patch: (url: string, data?: unknown, config?: object) => http.patch(url, data, withConfig(config)),
  };
  return { ...ctx, httpClient: client as unknown as IContext['httpClient'] };
}

/** An endpoint factory as a `(signal, args)` sender. */
export function bind<A, R>(ctx: IContext, factory: (ctx: IContext) => (args: A) => Promise<R>) {
  return (signal: AbortSignal, args: A): Promise<R & RawResponse<unknown>> => factory(withSignal(ctx, signal))(args) as Promise<R & RawResponse<unknown>>;
}

export function createOperations(ctx: IContext, deps: CallDeps, pageSize: number): Operations {
  const account = bind(ctx, modules.account.getAccount);
  const getAction = bind(ctx, modules.action.getAction);
  const v4 = {
    list: bind(ctx, reservedIp.listReservedIps),
    get: bind(ctx, reservedIp.getReservedIp),
    post: bind(ctx, reservedIp.postReservedIpAction),
    actions: bind(ctx, reservedIp.listReservedIpActions),
    action: bind(ctx, reservedIp.getReservedIpAction),
  };
  const v6 = {
    list: bind(ctx, reservedIpv6.listReservedIpv6s),
    get: bind(ctx, reservedIpv6.getReservedIpv6),
    post: bind(ctx, reservedIpv6.postReservedIpv6Action),
  };
  const ipOp = (addr: ReservedAddress, method: 'GET' | 'POST', v4Route: Operation['route'], v6Route: Operation['route'], scopes: string): Operation => ({
    method,
    route: addr.family === 4 ? v4Route : v6Route,
    subject: `reserved ${addr.family === 4 ? 'IP' : 'IPv6'} ${addr.text}`,
    scopes,
  });

  return {
    async getAccount(signal) {
      const op: Operation = { method: 'GET', route: ROUTES.account, subject: 'the account', scopes: 'account:read' };
      const { data } = await callDo(deps, op, (s) => account(s, undefined), signal);
      const a = data.account as { uuid?: unknown; email?: unknown; status?: unknown } | undefined;
      return { uuid: String(a?.uuid ?? ''), email: String(a?.email ?? ''), status: String(a?.status ?? '') };
    },

    async listFamily(family, signal) {
      const op: Operation = {
        method: 'GET',
        route: family === 4 ? ROUTES.ipv4List : ROUTES.ipv6List,
        subject: `the reserved IPv${family} list`,
        scopes: READ,
      };
      const query = (page: number) => ({ page, per_page: pageSize });
      return family === 4
        ? allPages(op.route, (page) => callDo(deps, op, (s) => v4.list(s, query(page)), signal), (d) => d.reserved_ips, fromV4)
        : allPages(op.route, (page) => callDo(deps, op, (s) => v6.list(s, query(page)), signal), (d) => d.reserved_ipv6s, fromV6);
    },

    async get(addr, signal) {
      const op = ipOp(addr, 'GET', ROUTES.ipv4, ROUTES.ipv6, READ);
      const ip =
        addr.family === 4
          ? fromV4((await callDo(deps, op, (s) => v4.get(s, { ip: addr.text }), signal)).data.reserved_ip)
          : fromV6((await callDo(deps, op, (s) => v6.get(s, { ip: addr.text }), signal)).data.reserved_ipv6);
      if (ip === null) throw new DoApiError('Transient', `GET ${op.route}: DigitalOcean answered without a ${op.subject} object`);
      return ip;
    },

    async postAction(addr, body, signal) {
      const op: Operation = {
        ...ipOp(addr, 'POST', ROUTES.ipv4Actions, ROUTES.ipv6Actions, UPDATE),
        ...(body.type === 'assign' ? { notFound: `reserved IP ${addr.text} or droplet ${body.droplet_id}` } : {}),
      };
      const send = (s: AbortSignal) => (addr.family === 4 ? v4.post(s, { ip: addr.text, body }) : v6.post(s, { ip: addr.text, body }));
      return (await callDo(deps, op, send, signal)).data.action ?? {};
    },

    async actionStatus(addr, actionId, signal) {
      if (addr.family === 4) {
        const op = ipOp(addr, 'GET', ROUTES.ipv4Action, ROUTES.ipv4Action, 'reserved_ip:read');
        return (await callDo(deps, op, (s) => v4.action(s, { ip: addr.text, action_id: actionId }), signal)).data.action?.status;
      }
      const op: Operation = { method: 'GET', route: ROUTES.action, subject: `action ${actionId}`, scopes: 'actions:read' };
      const { data } = await callDo(deps, op, (s) => getAction(s, { action_id: actionId }), signal);
      return (data.action as WireAction | undefined)?.status;
    },

    async recentActions(addr, signal) {
      if (addr.family === 6) return [];
      const op = ipOp(addr, 'GET', ROUTES.ipv4Actions, ROUTES.ipv4Actions, 'reserved_ip:read');
      return (await callDo(deps, op, (s) => v4.actions(s, { ip: addr.text }), signal)).data.actions ?? [];
    },
  };
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
