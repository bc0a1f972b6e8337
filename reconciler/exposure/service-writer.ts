// The Kubernetes side of the Service controller: server-side apply under field manager
// floatip of exactly the fields floatip owns (spec.externalIPs, status.loadBalancer.ingress),
// so nothing else in a Service is touched, and the one read it needs beyond the caches.
import { PatchStrategy, setHeaderOptions } from '../kube/api.ts';
import type { CoreV1Api } from '@kubernetes/client-node';
import { FIELD_MANAGER } from './facts.ts';

export type ServiceApi = Pick<CoreV1Api, 'patchNamespacedService' | 'patchNamespacedServiceStatus' | 'listNamespacedPod'>;

/** The run's signal: the runtime's fence refuses a write of a run whose term ended. */
export interface WriteOptions {
  readonly signal?: AbortSignal;
}

export interface ServiceWriter {
  /** spec.externalIPs; an empty list gives the field back (it disappears if no one else owns it) */
  applyExternalIPs(namespace: string, name: string, ips: readonly string[], opts?: WriteOptions): Promise<void>;
  /** status.loadBalancer.ingress, one { ip } per address; empty gives it back */
  applyIngress(namespace: string, name: string, ips: readonly string[], opts?: WriteOptions): Promise<void>;
  /**
   * Does the selector match pods, none of which carries `annotation`? Asked of the API server
   * when the cache shows no claiming pod: it may only be behind (an annotated pod) or right.
   */
  selectsOnlyUnannotatedPods(namespace: string, selector: Readonly<Record<string, string>>, annotation: string): Promise<boolean>;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export function createServiceWriter(api: ServiceApi): ServiceWriter {
  const identity = (namespace: string, name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace } });
  return {
    async applyExternalIPs(namespace, name, ips) {
      // Nothing to say: apply the bare identity, so floatip's managedFields entry goes too.
      const body = ips.length > 0 ? { ...identity(namespace, name), spec: { externalIPs: [...ips] } } : identity(namespace, name);
      // force: floatip owns this field of its Services; a user's value was warned about
      await api.patchNamespacedService({ name, namespace, body, fieldManager: FIELD_MANAGER, force: true }, APPLY);
    },
    async applyIngress(namespace, name, ips) {
      const body = ips.length > 0 ? { ...identity(namespace, name), status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } } : identity(namespace, name);
      await api.patchNamespacedServiceStatus({ name, namespace, body, fieldManager: FIELD_MANAGER, force: true }, APPLY);
    },
    async selectsOnlyUnannotatedPods(namespace, selector, annotation) {
      const labelSelector = Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      // a sample is enough to tell "none annotated" from "the cache is behind"
      const pods = (await api.listNamespacedPod({ namespace, labelSelector, limit: 50 })).items;
      return pods.length > 0 && pods.every((p) => p.metadata?.annotations?.[annotation] === undefined);
    },
  };
}
