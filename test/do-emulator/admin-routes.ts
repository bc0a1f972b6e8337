// The admin API under /_emulator: what tests use to set up and inspect the world. Not part
// of DigitalOcean's API; never rate limited, logged or faulted.
import { ApiFailure, badRequest } from './api-error.ts';
import type { EmulatorClock } from './clock.ts';
import type { FaultTable } from './faults.ts';
import type { RateLimiter } from './rate-limit.ts';
import { renderAction, renderDroplet, renderFirewall } from './render.ts';
import { noContent, ok, route } from './router.ts';
import type { RequestContext, Route } from './router.ts';
import type { EmulatorState } from './state.ts';
import { canonicalIp } from './state.ts';
import type { EmulatorSeed } from './world.ts';

export interface LoggedRequest {
  readonly seq: number;
  readonly time: string;
  readonly method: string;
  /** the path without the query string */
  readonly path: string;
  /** the query string without `?`, '' when absent */
  readonly query: string;
  /**
   * the status sent, or 0 when nothing was sent: the connection was reset or left hanging,
   * or the client disconnected during a latency fault (then the request was not applied)
   */
  readonly status: number;
  /** the parsed JSON request body, or null */
  readonly body: unknown;
  /** the request's User-Agent header (tells which replica sent it), or null */
  readonly userAgent: string | null;
  /** present when the client disconnected before the answer was complete */
  readonly aborted?: true;
}

/** A request the emulator is still handling (latency, hang or trickle faults keep it open). */
export interface InFlightRequest {
  readonly method: string;
  readonly path: string;
  readonly userAgent: string | null;
  /** when it arrived, on the emulator's clock */
  readonly since: string;
}

export interface EmulatorCore {
  readonly state: EmulatorState;
  readonly faults: FaultTable;
  readonly limiter: RateLimiter;
  readonly clock: EmulatorClock;
  readonly requests: LoggedRequest[];
  readonly inFlight: Set<InFlightRequest>;
  /** seq of the last logged request; restarts on reset, not when the log is cleared */
  lastSeq: number;
  /** load a seed (or the default world) and clear faults, the request log and the budget */
  reset(seed?: EmulatorSeed): void;
}

function dropletIdParam(ctx: RequestContext): number {
  const id = Number(ctx.params.id);
  if (!Number.isSafeInteger(id)) throw badRequest(`not a droplet id: ${ctx.params.id}`);
  return id;
}

function holders(state: EmulatorState): Record<string, number | null> {
  return Object.fromEntries([...state.addresses.values()].map((a) => [a.ip, a.dropletId]));
}

export function adminRoutes(core: EmulatorCore): Route[] {
  const { state } = core;
  return [
    route('POST', '/_emulator/reset', (ctx) => {
      core.reset(ctx.body === null ? undefined : (ctx.body as EmulatorSeed));
      return ok({ holders: holders(state) });
    }),
    route('GET', '/_emulator/state', () =>
      ok({
        region: state.region,
        actionDelayMs: state.actionDelayMs,
        rateLimit: core.limiter.limits,
        droplets: [...state.droplets.values()].map((d) => ({ ...renderDroplet(d), pending_event: d.pendingEvent, anchor_ipv4: d.anchorIpv4 })),
        reservedIps: [...state.addresses.values()].map((a) => ({
          ip: a.ip, family: a.family, region: a.region, dropletId: a.dropletId, locked: a.actionId !== null, actionId: a.actionId,
        })),
        actions: [...state.actions.values()].map((a) => ({ ...renderAction(a), ip: a.ip, from_droplet_id: a.fromDropletId, to_droplet_id: a.toDropletId })),
        firewalls: [...state.firewalls.byId.values()].map(renderFirewall),
        faults: core.faults.list().map(({ regex: _regex, ...f }) => f),
      }),
    ),
    route('POST', '/_emulator/droplets', (ctx) => {
      const b = (ctx.body ?? {}) as { id?: number; name?: string; region?: string; tags?: string[]; status?: 'active'; anchorIpv4?: string | null };
      const id = b.id ?? Math.max(1000, ...state.droplets.keys()) + 1;
      const droplet = state.addDroplet({ ...b, id, name: b.name ?? `droplet-${id}` });
      return { status: 201, body: renderDroplet(droplet) };
    }),
    route('DELETE', '/_emulator/droplets/{id}', (ctx) => {
      state.removeDroplet(dropletIdParam(ctx));
      return noContent;
    }),
    route('PUT', '/_emulator/droplets/{id}/pending-event', (ctx) => {
      const pending = (ctx.body as { pending?: unknown } | null)?.pending;
      if (typeof pending !== 'boolean') throw badRequest('body must be {"pending": true|false}');
      const droplet = state.droplet(dropletIdParam(ctx));
      droplet.pendingEvent = pending;
      return ok({ id: droplet.id, pending });
    }),
    route('POST', '/_emulator/faults', (ctx) => ({ status: 201, body: { id: core.faults.add(ctx.body).id } })),
    route('GET', '/_emulator/faults', () => ok(core.faults.list().map(({ regex: _regex, ...f }) => f))),
    route('DELETE', '/_emulator/faults', () => {
      core.faults.clear();
      return noContent;
    }),
    route('GET', '/_emulator/requests', () => ok(core.requests)),
    route('GET', '/_emulator/in-flight', () => ok([...core.inFlight])),
    route('DELETE', '/_emulator/requests', () => {
      core.requests.length = 0;
      return noContent;
    }),
    route('GET', '/_emulator/holders', () => ok(holders(state))),
    route('PUT', '/_emulator/holders/{ip}', (ctx) => {
      const text = ctx.params.ip ?? '';
      const ip = canonicalIp(text, 4) ?? canonicalIp(text, 6);
      const dropletId = (ctx.body as { droplet_id?: unknown } | null)?.droplet_id;
      if (ip === null) throw badRequest(`not an IP address: ${text}`);
      if (dropletId !== null && !Number.isSafeInteger(dropletId)) throw badRequest('body must be {"droplet_id": number|null}');
      state.setHolder(ip, dropletId as number | null);
      return ok({ ip, droplet_id: dropletId });
    }),
    // Not in the shared contract: lets a test make actions stay in-progress (e.g. 1 hour).
    route('PUT', '/_emulator/action-delay', (ctx) => {
      const ms = (ctx.body as { ms?: unknown } | null)?.ms;
      if (!Number.isSafeInteger(ms) || (ms as number) < 0) throw badRequest('body must be {"ms": non-negative integer}');
      state.actionDelayMs = ms as number;
      return ok({ ms });
    }),
    route('PUT', '/_emulator/ratelimit', (ctx) => {
      const b = (ctx.body ?? {}) as { perMinute?: unknown; perHour?: unknown };
      for (const v of [b.perMinute, b.perHour]) {
        if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new ApiFailure(400, 'bad_request', 'limits must be non-negative integers');
      }
      // A new budget starts with empty windows, so tests get exactly the limit they set.
      core.limiter.reset({
        ...(b.perMinute === undefined ? {} : { perMinute: b.perMinute as number }),
        ...(b.perHour === undefined ? {} : { perHour: b.perHour as number }),
      });
      return ok(core.limiter.limits);
    }),
  ];
}
