// Applying the deploy/ manifests to the test control plane exactly as a user would (server-
// side apply), plus the one rewrite tests need: the webhook configurations point at an
// in-process server by URL instead of at the in-cluster Service.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** The repository root, so tests can name manifests as `deploy/manifests/...`. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEBHOOK_CONFIGURATIONS = 'deploy/manifests/webhook-configurations.yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are untyped YAML
export type ManifestTransform = (obj: any) => any;

function resolvePath(path: string): string {
  return path.startsWith('/') ? path : new URL(path, `file://${REPO_ROOT}`).pathname;
}

/** Every non-empty document of a multi-document YAML file; a YAML error names the file. */
export async function readManifests(path: string): Promise<KubernetesObject[]> {
  const file = resolvePath(path);
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  const objects: KubernetesObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as KubernetesObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}

/** Server-side applies each document in order (create or update), after `transform`. */
export async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    try {
      await api.patch(obj, undefined, undefined, 'floatip-test', true, PatchStrategy.ServerSideApply);
    } catch (err) {
      const what = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata?.name}`;
      throw new Error(`applying ${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

export async function applyManifests(kc: KubeConfig, path: string, transform?: ManifestTransform): Promise<void> {
  const objects = (await readManifests(path)).map((o) => (transform ? transform(o) : o)).filter(Boolean);
  await applyObjects(kc, objects);
}

interface WebhookEntry {
  clientConfig?: { service?: { path?: string; port?: number }; url?: string; caBundle?: string };
  failurePolicy?: string;
}

/**
 * The webhook configurations from deploy/, pointed at `url` (+ each webhook's service path)
 * and trusting `caBundlePem`; `failurePolicy` overrides the manifest's when given.
 */
export function rewriteWebhookConfigurations(
  objects: readonly KubernetesObject[],
  opts: { url: string; caBundlePem: string; failurePolicy?: 'Fail' | 'Ignore' },
): KubernetesObject[] {
  const base = opts.url.replace(/\/+$/, '');
  const caBundle = Buffer.from(opts.caBundlePem).toString('base64');
  return objects
    .filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration')
    .map((o) => {
      const copy = structuredClone(o) as KubernetesObject & { webhooks?: WebhookEntry[] };
      for (const hook of copy.webhooks ?? []) {
        const path = hook.clientConfig?.service?.path ?? '';
        hook.clientConfig = { url: base + path, caBundle };
        if (opts.failurePolicy) hook.failurePolicy = opts.failurePolicy;
      }
      return copy;
    });
}
