// The indirect-probe key: 32 random bytes in a Secret of the agents' namespace, which the
// agents mount. The reconciler creates it when missing (a chart cannot: `helm template`
// would render a new random key on every run), and whichever replica creates it first wins
// (a 409 means another one did: read theirs). Nothing logs the key.
import { ApiException } from '../kube/api.ts';
import type { CoreV1Api } from '@kubernetes/client-node';
import { MIN_KEY_BYTES } from '../../shared/liveness-auth.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { randomBytes } = process.getBuiltinModule('node:crypto');

export const KEY_FIELD = 'key';

type SecretApi = Pick<CoreV1Api, 'readNamespacedSecret' | 'createNamespacedSecret'>;

function keyOf(data: Record<string, string> | undefined): Buffer | undefined {
  const text = data?.[KEY_FIELD];
  if (text === undefined) return undefined;
  const key = Buffer.from(text, 'base64');
  return key.length >= MIN_KEY_BYTES ? key : undefined;
}

const status = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** Read the key, creating the Secret if there is none. Throws when it cannot (RBAC, API down, a key too short). */
export async function ensureLivenessKey(api: SecretApi, namespace: string, name: string): Promise<Buffer> {
  try {
    const secret = await api.readNamespacedSecret({ namespace, name });
    const key = keyOf(secret.data);
    if (!key) throw new Error(`Secret ${namespace}/${name} has no "${KEY_FIELD}" of at least ${MIN_KEY_BYTES} bytes`);
    return key;
  } catch (err) {
    if (status(err) !== 404) throw err;
  }
  const key = randomBytes(32);
  try {
    await api.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name, labels: { 'app.kubernetes.io/name': 'floatip', 'app.kubernetes.io/component': 'liveness' } },
        type: 'Opaque',
        data: { [KEY_FIELD]: key.toString('base64') },
      },
    });
    return key;
  } catch (err) {
    if (status(err) !== 409) throw err;
    return ensureLivenessKey(api, namespace, name);
  }
}
