// The /v2 API: account, actions, droplets, reserved IPv4 (and its legacy floating_ips twin)
// and reserved IPv6. Paths and bodies follow the OpenAPI spec; firewalls live in
// firewall-routes.ts.
import { notFound, unprocessable } from './api-error.ts';
import { firewallRoutes } from './firewall-routes.ts';
import {
  isKnownRegion, paginate, renderAction, renderDroplet, renderReservedIpv4, renderReservedIpv6,
} from './render.ts';
import { noContent, ok, route } from './router.ts';
import type { RequestContext, Route } from './router.ts';
import type { Action, EmulatorState, ResourceType } from './state.ts';

const ACCOUNT = {
  droplet_limit: 25,
  floating_ip_limit: 10,
  email: 'emulator@example.com',
  name: 'floatip emulator',
  uuid: 'c0ffee000000400080000000000000000000acc7',
  email_verified: true,
  status: 'active',
  status_message: '',
};

function positiveId(text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw notFound();
  return n;
}

const newestFirst = (actions: Action[]) => [...actions].sort((a, b) => b.id - a.id);

/**
 * The IPv4 family under one prefix: `reserved_ips` (resource `reserved_ip`) or the legacy
 * `floating_ips` (resource `floating_ip`) over the same addresses.
 */
function ipv4Routes(prefix: 'reserved_ips' | 'floating_ips'): Route[] {
  const one = prefix === 'reserved_ips' ? 'reserved_ip' : 'floating_ip';
  const resource: ResourceType = one;
  const base = `/v2/${prefix}`;
  const ip = `${base}/{${one}}`;
  const addr = (ctx: RequestContext) => ctx.state.address(ctx.params[one] ?? '', 4);
  return [
    route('GET', base, (ctx) => ok(paginate(prefix, ctx.state.list(4).map((a) => renderReservedIpv4(ctx.state, a)), ctx.url))),
    route('POST', base, (ctx) => {
      const { created, action } = createIpv4(ctx.state, ctx.body, resource);
      const origin = ctx.url.origin;
      const links = action === undefined || action.toDropletId === null ? {} : {
        droplets: [{ id: action.toDropletId, rel: 'droplet', href: `${origin}/v2/droplets/${action.toDropletId}` }],
        actions: [{ id: action.id, rel: 'assign_ip', href: `${origin}/v2/actions/${action.id}` }],
      };
      return { status: 202, body: { [one]: renderReservedIpv4(ctx.state, created), links } };
    }),
    route('GET', ip, (ctx) => ok({ [one]: renderReservedIpv4(ctx.state, addr(ctx)) })),
    route('DELETE', ip, (ctx) => {
      ctx.state.deleteAddress(addr(ctx));
      return noContent;
    }),
    route('GET', `${ip}/actions`, (ctx) => ok(paginate('actions', newestFirst(ctx.state.actionsFor(addr(ctx).ip)).map(renderAction), ctx.url))),
    route('POST', `${ip}/actions`, (ctx) => ({ status: 201, body: { action: renderAction(ctx.state.startAction(addr(ctx), resource, ctx.body)) } })),
    route('GET', `${ip}/actions/{action_id}`, (ctx) => {
      const a = ctx.state.action(positiveId(ctx.params.action_id));
      if (a.ip !== addr(ctx).ip) throw notFound();
      return ok({ action: renderAction(a) });
    }),
  ];
}

function createIpv4(state: EmulatorState, body: unknown, resource: ResourceType) {
  const b = (body ?? {}) as { region?: unknown; droplet_id?: unknown };
  if (b.droplet_id !== undefined) {
    const droplet = state.droplet(typeof b.droplet_id === 'number' ? b.droplet_id : NaN);
    const created = state.addAddress(4, droplet.region);
    try {
      return { created, action: state.startAction(created, resource, { type: 'assign', droplet_id: droplet.id }) };
    } catch (err) {
      state.addresses.delete(created.ip);
      throw err;
    }
  }
  if (typeof b.region !== 'string' || !isKnownRegion(b.region)) throw unprocessable('region (a valid region slug) or droplet_id is required.');
  return { created: state.addAddress(4, b.region), action: undefined };
}

function ipv6Routes(): Route[] {
  const addr = (ctx: RequestContext) => ctx.state.address(ctx.params.reserved_ipv6 ?? '', 6);
  return [
    route('GET', '/v2/reserved_ipv6', (ctx) => ok(paginate('reserved_ipv6s', ctx.state.list(6).map((a) => renderReservedIpv6(ctx.state, a)), ctx.url))),
    route('POST', '/v2/reserved_ipv6', (ctx) => {
      const region = (ctx.body as { region_slug?: unknown } | null)?.region_slug;
      if (typeof region !== 'string' || !isKnownRegion(region)) throw unprocessable('region_slug (a valid region slug) is required.');
      const created = ctx.state.addAddress(6, region);
      const { ip, region_slug, reserved_at } = renderReservedIpv6(ctx.state, created);
      return { status: 201, body: { reserved_ipv6: { ip, region_slug, reserved_at } } };
    }),
    route('GET', '/v2/reserved_ipv6/{reserved_ipv6}', (ctx) => ok({ reserved_ipv6: renderReservedIpv6(ctx.state, addr(ctx)) })),
    route('DELETE', '/v2/reserved_ipv6/{reserved_ipv6}', (ctx) => {
      ctx.state.deleteAddress(addr(ctx));
      return noContent;
    }),
    route('POST', '/v2/reserved_ipv6/{reserved_ipv6}/actions', (ctx) => ({
      status: 201,
      body: { action: renderAction(ctx.state.startAction(addr(ctx), 'reserved_ipv6', ctx.body)) },
    })),
  ];
}

function dropletRoutes(): Route[] {
  return [
    route('GET', '/v2/droplets', (ctx) => {
      const tag = ctx.url.searchParams.get('tag_name');
      const name = ctx.url.searchParams.get('name')?.toLowerCase();
      const droplets = [...ctx.state.droplets.values()]
        .filter((d) => (tag === null || d.tags.includes(tag)) && (name === undefined || d.name.toLowerCase() === name))
        .sort((a, b) => a.id - b.id)
        .map(renderDroplet);
      return ok(paginate('droplets', droplets, ctx.url));
    }),
    route('GET', '/v2/droplets/{droplet_id}', (ctx) => ok({ droplet: renderDroplet(ctx.state.droplet(positiveId(ctx.params.droplet_id))) })),
  ];
}

export const apiRoutes: readonly Route[] = [
  route('GET', '/v2/account', () => ok({ account: ACCOUNT })),
  // /v2/actions (list) is upstream API but outside the reduced spec; served for completeness.
  route('GET', '/v2/actions', (ctx) => ok(paginate('actions', newestFirst([...ctx.state.actions.values()]).map(renderAction), ctx.url))),
  route('GET', '/v2/actions/{action_id}', (ctx) => ok({ action: renderAction(ctx.state.action(positiveId(ctx.params.action_id))) })),
  ...dropletRoutes(),
  ...ipv4Routes('reserved_ips'),
  ...ipv4Routes('floating_ips'),
  ...ipv6Routes(),
  ...firewallRoutes(),
];
