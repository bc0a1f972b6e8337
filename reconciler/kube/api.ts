// The reconciler's Kubernetes API: client-node's generated CoreV1Api and CoordinationV1Api —
// their request factories and response processors, the code makeApiClient() wraps, so calls
// take the same parameters and answer the same models and ApiExceptions — sent through
// shared/kube's connection (in-cluster token re-read, client certificates, one keep-alive
// agent). Not through the package's entry point or KubeConfig: those import all ~225 API
// groups, every auth provider and proxy agent, about 20 MiB of RSS per reconciler that it
// never uses (README: Footprint). Deep imports into client-node's dist/ are pinned by its
// exact version in package.json, and reconciler/kube/api.test.ts checks them against it.
import type { ConfigurationOptions, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { CoordinationV1ApiRequestFactory, CoordinationV1ApiResponseProcessor } from '@kubernetes/client-node/dist/gen/apis/CoordinationV1Api.js';
import { CoreV1ApiRequestFactory, CoreV1ApiResponseProcessor } from '@kubernetes/client-node/dist/gen/apis/CoreV1Api.js';
import { ResponseContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import type { RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
import type { KubeClient } from '../../shared/kube/client.ts';

export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
export { setHeaderOptions } from '@kubernetes/client-node/dist/middleware.js';

/** The CoreV1Api calls the reconciler makes. */
export const CORE_CALLS = [
  'listPodForAllNamespaces',
  'listNamespacedPod',
  'listNode',
  'listServiceForAllNamespaces',
  'listNamespacedService',
  'createNamespacedEvent',
  'patchNamespacedEvent',
  'readNamespacedSecret',
  'createNamespacedSecret',
  'patchNamespacedService',
  'patchNamespacedServiceStatus',
] as const satisfies readonly (keyof CoreV1Api)[];

/** The CoordinationV1Api calls: leader election and the node Lease informer. */
export const LEASE_CALLS = ['readNamespacedLease', 'replaceNamespacedLease', 'createNamespacedLease', 'listNamespacedLease'] as const satisfies readonly (keyof CoordinationV1Api)[];

export type CoreApi = Pick<CoreV1Api, (typeof CORE_CALLS)[number]>;
export type LeaseApi = Pick<CoordinationV1Api, (typeof LEASE_CALLS)[number]>;

/**
 * A generated request-factory method's parameters, in order: the object-parameter API passes
 * `param.<name>` for each (`_options`, the configuration, is ours to give).
 */
export function parameterNames(method: (...args: never[]) => unknown): string[] {
  const m = /^(?:async\s+)?[\w$]+\s*\(([^)]*)\)/.exec(method.toString());
  if (!m) throw new Error(`cannot read the parameters of ${method.name}`);
  return (m[1] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '' && p !== '_options');
}

type Middleware = { pre(ctx: RequestContext): PromiseLike<RequestContext> | { toPromise(): Promise<RequestContext> }; post(res: ResponseContext): PromiseLike<ResponseContext> | { toPromise(): Promise<ResponseContext> } };
const settle = <T>(x: PromiseLike<T> | { toPromise(): Promise<T> }): PromiseLike<T> => ('toPromise' in x ? x.toPromise() : x);

type Callable = Record<string, (...args: unknown[]) => Promise<unknown>>;

type Configuration = ConstructorParameters<typeof CoreV1ApiRequestFactory>[0];

function generatedApi(factory: object, processor: object, calls: readonly string[], kube: KubeClient, configuration: Configuration): Record<string, (param?: Record<string, unknown>, options?: ConfigurationOptions) => Promise<unknown>> {
  const send = async (ctx: RequestContext): Promise<ResponseContext> => {
    const url = new URL(ctx.getUrl());
    const res = await kube.exchange({ method: ctx.getHttpMethod(), path: `${url.pathname}${url.search}`, headers: ctx.getHeaders(), body: ctx.getBody() as string | undefined });
    return new ResponseContext(res.status, res.headers, { text: () => Promise.resolve(res.text), binary: () => Promise.resolve(Buffer.from(res.text)), stream: () => null });
  };
  const out: Record<string, (param?: Record<string, unknown>, options?: ConfigurationOptions) => Promise<unknown>> = {};
  for (const call of calls) {
    const build = (factory as Callable)[call];
    // the processors answer an HttpInfo; the object API returns its data
    const read = (processor as Callable)[`${call}WithHttpInfo`];
    if (!build || !read) throw new Error(`client-node has no ${call}`);
    const names = parameterNames(build);
    out[call] = async (param = {}, options) => {
      const middleware = (options?.middleware ?? []) as unknown as Middleware[];
      let ctx = (await build.call(factory, ...names.map((n) => param[n]), configuration)) as RequestContext;
      for (const m of middleware) ctx = await settle(m.pre(ctx));
      let res = await send(ctx);
      for (const m of [...middleware].reverse()) res = await settle(m.post(res));
      return ((await read.call(processor, res)) as { data: unknown }).data;
    };
  }
  return out;
}

/**
 * CoreV1Api and CoordinationV1Api calls over `kube`. The generated code builds absolute URLs;
 * the server part is a placeholder the transport drops (it knows the API server).
 */
export function kubeApis(kube: KubeClient): { core: CoreApi; leases: LeaseApi } {
  // the factories read only baseServer and authMethods; authentication is the transport's
  const configuration = { baseServer: new ServerConfiguration<Record<string, string>>('https://api-server.invalid', {}), authMethods: {}, middleware: [] } as unknown as Configuration;
  const core = generatedApi(new CoreV1ApiRequestFactory(configuration), new CoreV1ApiResponseProcessor(), CORE_CALLS, kube, configuration);
  const leases = generatedApi(new CoordinationV1ApiRequestFactory(configuration), new CoordinationV1ApiResponseProcessor(), LEASE_CALLS, kube, configuration);
  return { core: core as unknown as CoreApi, leases: leases as unknown as LeaseApi };
}
