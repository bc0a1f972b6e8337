// The Kubernetes side of self-managed TLS: the Secret (get/create/replace by resourceVersion)
// and the caBundle of both webhook configurations (get/patch). These are exactly the verbs
// deploy/manifests/webhook-rbac.yaml grants, on these objects only.
import { AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { fromSecretData, toSecretData } from './rotation.ts';
import type { CaBundleTarget, TlsSecretStore } from './self-managed.ts';

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

export function kubeSecretStore(kc: KubeConfig, namespace: string, name: string): TlsSecretStore {
  const core = kc.makeApiClient(CoreV1Api);
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
        const secret = await core.readNamespacedSecret({ name, namespace });
        return { data: fromSecretData(secret.data), version: secret.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
    async create(state) {
      try {
        await core.createNamespacedSecret({ namespace, body: body(toSecretData(state)) });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
    async update(state, version) {
      try {
        await core.replaceNamespacedSecret({ name, namespace, body: body(toSecretData(state), version) });
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

export function kubeCaBundleTarget(kc: KubeConfig, mutatingName: string, validatingName: string): CaBundleTarget {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  return {
    async ensure(bundlePem) {
      let changed = false;
      const mutating = await api.readMutatingWebhookConfiguration({ name: mutatingName });
      const mPatch = caBundlePatch(mutating, bundlePem);
      if (mPatch.length > 0) {
        await api.patchMutatingWebhookConfiguration({ name: mutatingName, body: mPatch }, jsonPatch);
        changed = true;
      }
      const validating = await api.readValidatingWebhookConfiguration({ name: validatingName });
      const vPatch = caBundlePatch(validating, bundlePem);
      if (vPatch.length > 0) {
        await api.patchValidatingWebhookConfiguration({ name: validatingName, body: vPatch }, jsonPatch);
        changed = true;
      }
      return changed;
    },
  };
}
