// /v2/firewalls and its droplets, tags and rules sub-resources, as the spec defines them.
import { paginate, renderFirewall } from './render.ts';
import { noContent, ok, route } from './router.ts';
import type { RequestContext, Route } from './router.ts';

const id = (ctx: RequestContext) => ctx.params.firewall_id ?? '';
const body = (ctx: RequestContext) => (ctx.body ?? {}) as Record<string, unknown>;

export function firewallRoutes(): Route[] {
  const one = '/v2/firewalls/{firewall_id}';
  return [
    route('GET', '/v2/firewalls', (ctx) => ok(paginate('firewalls', [...ctx.state.firewalls.byId.values()].map(renderFirewall), ctx.url))),
    route('POST', '/v2/firewalls', (ctx) => ({ status: 202, body: { firewall: renderFirewall(ctx.state.firewalls.create(body(ctx))) } })),
    route('GET', one, (ctx) => ok({ firewall: renderFirewall(ctx.state.firewalls.get(id(ctx))) })),
    route('PUT', one, (ctx) => ok({ firewall: renderFirewall(ctx.state.firewalls.update(id(ctx), body(ctx))) })),
    route('DELETE', one, (ctx) => {
      ctx.state.firewalls.delete(id(ctx));
      return noContent;
    }),
    ...(
      [
        ['droplets', 'addDroplets', 'removeDroplets'],
        ['tags', 'addTags', 'removeTags'],
        ['rules', 'addRules', 'removeRules'],
      ] as const
    ).flatMap(([sub, add, remove]) => [
      route('POST', `${one}/${sub}`, (ctx) => {
        ctx.state.firewalls[add](id(ctx), ctx.body);
        return noContent;
      }),
      route('DELETE', `${one}/${sub}`, (ctx) => {
        ctx.state.firewalls[remove](id(ctx), ctx.body);
        return noContent;
      }),
    ]),
  ];
}
