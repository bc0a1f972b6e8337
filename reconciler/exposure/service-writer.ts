// The Kubernetes side of the Service controller: server-side apply under field manager
// floatip of exactly the fields floatip owns (spec.externalIPs, status.loadBalancer.ingress),
// so nothing else in a Service is touched, and the one read it needs beyond the caches.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Api } from '@kubernetes/client-node';
import { FIELD_MANAGER } from './facts.ts';

export type ServiceApi = Pick<CoreV1Api, 'patchNamespacedService' | 'patchNamespacedServiceStatus' | 'listNamespacedPod'>;

export interface ServiceWriter {
  /** spec.externalIPs; an empty list gives the field back (it disappears if no one else owns it) */
  applyExternalIPs(namespace: string, name: string, ips: readonly string[]): Promise<void>;
  /** status.loadBalancer.ingress, one { ip } per address; empty gives it back */
  applyIngress(namespace: string, name: string, ips: readonly string[]): Promise<void>;
  /** does the selector match any pod at all (labeled by the webhook or not)? */
  selectsAnyPod(namespace: string, selector: Readonly<Record<string, string>>): Promise<boolean>;
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
    async selectsAnyPod(namespace, selector) {
      const labelSelector = Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return (await api.listNamespacedPod({ namespace, labelSelector, limit: 1 })).items.length > 0;
    },
  };
}
