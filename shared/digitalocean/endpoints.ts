// The reserved-IP endpoints dots-wrapper lacks (droplets and firewalls come from its own
// modules), in its module shape
// `(ctx) => (args) => httpClient.<verb>(path)`, with paths relative to the `/v2` base URL.
// Wire types list only the fields floatip reads, all optional: the body is untrusted input.
// Callers pass IPs already validated and canonicalised (shared/addresses.ts), so they are
// safe to put in a path as they are.
import type { IContext, IListRequest, IListResponse, IResponse } from 'dots-wrapper/dist/types/index.js';

export interface WireDroplet {
  readonly id?: number;
}

export interface WireReservedIp {
  readonly ip?: string;
  readonly region?: { readonly slug?: string } | null;
  readonly droplet?: WireDroplet | null;
  readonly locked?: boolean;
}

export interface WireReservedIpv6 {
  readonly ip?: string;
  readonly region_slug?: string;
  readonly droplet?: WireDroplet | null;
  /** not in DigitalOcean's IPv6 schema; read when present */
  readonly locked?: boolean;
}

export interface WireAction {
  readonly id?: number;
  readonly status?: string;
  readonly type?: string;
}

export type ActionBody = { readonly type: 'assign'; readonly droplet_id: number } | { readonly type: 'unassign' };

type Get<T> = Promise<Readonly<IResponse<T>>>;

export const reservedIp = {
  listReservedIps:
    ({ httpClient }: IContext) =>
    ({ page = 1, per_page = 200 }: IListRequest): Get<IListResponse & { reserved_ips?: WireReservedIp[] }> =>
      httpClient.get('/reserved_ips', { params: { page, per_page } }),
  getReservedIp:
    ({ httpClient }: IContext) =>
    ({ ip }: { ip: string }): Get<{ reserved_ip?: WireReservedIp }> =>
      httpClient.get(`/reserved_ips/${ip}`),
  postReservedIpAction:
    ({ httpClient }: IContext) =>
    ({ ip, body }: { ip: string; body: ActionBody }): Get<{ action?: WireAction }> =>
      httpClient.post(`/reserved_ips/${ip}/actions`, body),
  listReservedIpActions:
    ({ httpClient }: IContext) =>
    ({ ip, per_page = 20 }: { ip: string; per_page?: number }): Get<IListResponse & { actions?: WireAction[] }> =>
      httpClient.get(`/reserved_ips/${ip}/actions`, { params: { page: 1, per_page } }),
  getReservedIpAction:
    ({ httpClient }: IContext) =>
    ({ ip, action_id }: { ip: string; action_id: number }): Get<{ action?: WireAction }> =>
      httpClient.get(`/reserved_ips/${ip}/actions/${action_id}`),
};

export const reservedIpv6 = {
  listReservedIpv6s:
    ({ httpClient }: IContext) =>
    ({ page = 1, per_page = 200 }: IListRequest): Get<IListResponse & { reserved_ipv6s?: WireReservedIpv6[] }> =>
      httpClient.get('/reserved_ipv6', { params: { page, per_page } }),
  getReservedIpv6:
    ({ httpClient }: IContext) =>
    ({ ip }: { ip: string }): Get<{ reserved_ipv6?: WireReservedIpv6 }> =>
      httpClient.get(`/reserved_ipv6/${ip}`),
  // IPv6 has no per-IP action GET upstream: poll with dots-wrapper's action.getAction.
  postReservedIpv6Action:
    ({ httpClient }: IContext) =>
    ({ ip, body }: { ip: string; body: ActionBody }): Get<{ action?: WireAction }> =>
      httpClient.post(`/reserved_ipv6/${ip}/actions`, body),
};

/** Route templates for metrics and messages: bounded cardinality, never an IP or id. */
export const ROUTES = {
  account: '/v2/account',
  action: '/v2/actions/{action_id}',
  ipv4List: '/v2/reserved_ips',
  ipv4: '/v2/reserved_ips/{reserved_ip}',
  ipv4Actions: '/v2/reserved_ips/{reserved_ip}/actions',
  ipv4Action: '/v2/reserved_ips/{reserved_ip}/actions/{action_id}',
  ipv6List: '/v2/reserved_ipv6',
  ipv6: '/v2/reserved_ipv6/{reserved_ipv6}',
  ipv6Actions: '/v2/reserved_ipv6/{reserved_ipv6}/actions',
  droplet: '/v2/droplets/{droplet_id}',
  firewallList: '/v2/firewalls',
  firewall: '/v2/firewalls/{firewall_id}',
} as const;

export type Route = (typeof ROUTES)[keyof typeof ROUTES];
