// Shared pieces of the benchmarks: V1Pod/V1Node builders (what the informer caches hold),
// the emulator's admin API, route templates for counting calls, and a hook that timestamps
// HTTP requests as the in-process emulator's server receives them.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { FloatingIpKeys } from '../shared/keys.ts';

export function node(name: string, dropletId: number, ready = true): V1Node {
  return {
    metadata: { name, uid: `uid-${name}` },
    spec: { providerID: `digitalocean://${dropletId}` },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

export interface PodSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly nodeName: string;
  /** annotation value: one IP or a list */
  readonly ips: string;
  /** the ReplicaSet the pod belongs to: pods of one workload share it */
  readonly workload: string;
  /** seconds before a fixed instant: larger = older (the planner prefers the oldest pod) */
  readonly ageS: number;
}

export function pod(keys: FloatingIpKeys, s: PodSpec): V1Pod {
  return {
    metadata: {
      name: s.name,
      namespace: s.namespace ?? 'bench',
      uid: `uid-${s.name}`,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1) - s.ageS * 1000),
      labels: { [keys.label]: 'true', 'pod-template-hash': 'b3nch' },
      annotations: { [keys.annotation]: s.ips },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${s.workload}-b3nch`, uid: `rs-${s.workload}`, controller: true }],
    },
    spec: { nodeName: s.nodeName, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface LoggedCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/** The emulator's admin API (never rate limited, faulted or logged as an API call). */
export function adminClient(url: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}/_emulator${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`emulator admin ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  return {
    call,
    holders: async () => (await call('GET', '/holders')) as Record<string, number | null>,
    requests: async () => (await call('GET', '/requests')) as LoggedCall[],
    clearRequests: async () => void (await call('DELETE', '/requests')),
  };
}

/** `POST /v2/reserved_ips/104.248.100.100/actions/7` → `POST /v2/reserved_ips/{ip}/actions/{id}` */
export function routeOf(method: string, path: string): string {
  const template = path
    .split('/')
    .map((seg) => (/^\d+$/.test(seg) ? '{id}' : seg.includes('.') || seg.includes(':') ? '{ip}' : seg))
    .join('/');
  return `${method} ${template}`;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  /** performance.now() when the server parsed the request line and headers */
  readonly at: number;
}

/**
 * Records requests arriving at the HTTP server listening on `port` in this process, through
 * Node's `http.server.request.start` diagnostics channel: the instant the server has the
 * request's headers, before the emulator's handler reads the body. No proxy, no added hop.
 */
export function watchServerRequests(port: number, onRequest: (r: ReceivedRequest) => void): () => void {
  const listener = (message: unknown) => {
    const req = (message as { request: IncomingMessage }).request;
    if (req.socket.localPort !== port) return;
    onRequest({ method: req.method ?? '', url: req.url ?? '', at: performance.now() });
  };
  subscribe('http.server.request.start', listener);
  return () => void unsubscribe('http.server.request.start', listener);
}

export const isAssignRequest = (r: ReceivedRequest) => r.method === 'POST' && /^\/v2\/(reserved_ips|reserved_ipv6)\/[^/]+\/actions$/.test(r.url.split('?')[0] ?? '');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns a value, failing with `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 5): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`benchmark: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}
