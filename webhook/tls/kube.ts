// The Kubernetes side of self-managed TLS: the Secret (get/create/replace by resourceVersion)
// and the caBundle of both webhook configurations (get/patch). These are exactly the verbs
// deploy/manifests/webhook-rbac.yaml grants, on these objects only. Through shared/kube, not
// client-node: a handful of calls at start-up and once an interval do not justify its memory.
import type { V1MutatingWebhookConfiguration, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { CONTENT_TYPE, seg } from '../../shared/kube/client.ts';
import type { KubeClient } from '../../shared/kube/client.ts';
import { fromSecretData, toSecretData } from './rotation.ts';
import type { CaBundleTarget, TlsSecretStore } from './self-managed.ts';

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

export function kubeSecretStore(kube: KubeClient, namespace: string, name: string): TlsSecretStore {
  const secrets = `/api/v1/namespaces/${seg(namespace)}/secrets`;
  const secret = `${secrets}/${seg(name)}`;
  const body = (data: Record<string, string>, resourceVersion?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'floatip', 'app.kubernetes.io/component': 'webhook' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data,
  });
  return {
    async read() {
      try {
        const read = await kube.request<V1Secret>({ method: 'GET', path: secret });
        return { data: fromSecretData(read.data), version: read.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
    async create(state) {
      try {
        await kube.request({ method: 'POST', path: secrets, body: body(toSecretData(state)) });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
    async update(state, version) {
      try {
        await kube.request({ method: 'PUT', path: secret, body: body(toSecretData(state), version) });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
  };
}

type AnyWebhookConfiguration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

/** JSON Patch setting caBundle on every webhook whose bundle differs; `test` guards against a reordered list. */
export function caBundlePatch(configuration: AnyWebhookConfiguration, bundlePem: string) {
  const encoded = Buffer.from(bundlePem).toString('base64');
  return (configuration.webhooks ?? []).flatMap((webhook, i) => {
    // The API returns caBundle base64-encoded in JSON; compare in that form.
    const current = (webhook.clientConfig as { caBundle?: string } | undefined)?.caBundle ?? '';
    if (current === encoded) return [];
    return [
      { op: 'test', path: `/webhooks/${i}/name`, value: webhook.name },
      { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded },
    ];
  });
}

export function kubeCaBundleTarget(kube: KubeClient, mutatingName: string, validatingName: string): CaBundleTarget {
  const base = '/apis/admissionregistration.k8s.io/v1';
  const targets = [`${base}/mutatingwebhookconfigurations/${seg(mutatingName)}`, `${base}/validatingwebhookconfigurations/${seg(validatingName)}`];
  return {
    async ensure(bundlePem) {
      let changed = false;
      for (const path of targets) {
        const configuration = await kube.request<AnyWebhookConfiguration>({ method: 'GET', path });
        const patch = caBundlePatch(configuration, bundlePem);
        if (patch.length === 0) continue;
        await kube.request({ method: 'PATCH', path, body: patch, contentType: CONTENT_TYPE.jsonPatch });
        changed = true;
      }
      return changed;
    },
  };
}
