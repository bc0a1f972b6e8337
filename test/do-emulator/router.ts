// Minimal method + path-template routing shared by the API and the admin routes.
import type { EmulatorState } from './state.ts';

export interface RequestContext {
  readonly method: string;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly state: EmulatorState;
}

export interface Reply {
  readonly status: number;
  /** absent for 204 */
  readonly body?: unknown;
}

export interface Route {
  readonly method: string;
  /** the spec's path template, e.g. `/v2/reserved_ips/{reserved_ip}` */
  readonly template: string;
  readonly pattern: RegExp;
  readonly handle: (ctx: RequestContext) => Reply;
}

export function route(method: string, template: string, handle: (ctx: RequestContext) => Reply): Route {
  const source = template.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return { method, template, pattern: new RegExp(`^${source}$`), handle };
}

export function findRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (m !== null) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v);
      return { route: r, params };
    }
  }
  return undefined;
}

export const ok = (body: unknown): Reply => ({ status: 200, body });
export const noContent: Reply = { status: 204 };
