// Where the API server is and how to authenticate, for the two processes that make a handful
// of calls (agent, webhook) without @kubernetes/client-node, whose import alone costs about
// 70 MiB (its KubeConfig pulls in every auth provider and every generated model).
// In a pod: KUBERNETES_SERVICE_HOST/PORT and the service-account files. The kubelet rotates
// the projected token (about hourly), so the token file is re-read, at most once a minute,
// as client-go does. Outside a pod (tests, a developer): a kubeconfig with a token or a
// client certificate — no exec or auth-provider plugins.
import { dirname, resolve } from 'node:path';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { readFileSync } = process.getBuiltinModule('node:fs');

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** how long a token read from a file is used before the file is read again */
export const TOKEN_REREAD_MS = 60_000;

export interface KubeConnection {
  /** https://host:port, without a trailing slash */
  readonly server: string;
  /** PEM of the CA that signed the API server's certificate; undefined = the system roots */
  readonly caPem: string | undefined;
  readonly insecureSkipTlsVerify: boolean;
  readonly clientCert: { readonly certPem: string; readonly keyPem: string } | undefined;
  /** the bearer token to send now, if any */
  token(): string | undefined;
}

export type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, 'utf8');

/** A token file read again once `rereadMs` has passed since the last read. */
export function tokenFile(path: string, deps: { read?: ReadText; now?: () => number; rereadMs?: number } = {}): () => string {
  const read = deps.read ?? readText;
  const now = deps.now ?? Date.now;
  const rereadMs = deps.rereadMs ?? TOKEN_REREAD_MS;
  let token = read(path).trim();
  let readAt = now();
  return () => {
    if (now() - readAt >= rereadMs) {
      try {
        token = read(path).trim();
      } catch {
        // a rotation in progress (the kubelet swaps a symlink): keep the last token a moment
      }
      readAt = now();
    }
    return token;
  };
}

function hostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The pod's own service account (what client-node's loadFromCluster reads). */
export function inClusterConnection(env: Readonly<Record<string, string | undefined>>, deps: { read?: ReadText; now?: () => number; dir?: string } = {}): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] || '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: not running in a pod');
  const read = deps.read ?? readText;
  const dir = deps.dir ?? SERVICE_ACCOUNT_DIR;
  return {
    server: `https://${hostPort(host, port)}`,
    caPem: read(`${dir}/ca.crt`),
    insecureSkipTlsVerify: false,
    clientCert: undefined,
    token: tokenFile(`${dir}/token`, { read, ...(deps.now ? { now: deps.now } : {}) }),
  };
}

type KubeconfigCluster = { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean };
type KubeconfigUser = {
  token?: string;
  tokenFile?: string;
  'client-certificate-data'?: string;
  'client-key-data'?: string;
  'client-certificate'?: string;
  'client-key'?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
};

function named<T>(list: unknown, name: string | undefined, field: string, what: string): T {
  const entry = Array.isArray(list) ? (list as (Record<string, unknown> | null)[]).find((e) => e?.['name'] === name) : undefined;
  const value = entry?.[field];
  if (value === undefined || value === null || typeof value !== 'object') throw new Error(`the kubeconfig has no ${what} "${name ?? ''}"`);
  return value as T;
}

/** The current context of a kubeconfig document (already parsed), relative paths against `baseDir`. */
export function kubeconfigConnection(doc: unknown, baseDir: string, read: ReadText = readText): KubeConnection {
  const config = (doc ?? {}) as { 'current-context'?: string; contexts?: unknown; clusters?: unknown; users?: unknown };
  const contextName = config['current-context'];
  if (!contextName) throw new Error('the kubeconfig has no current-context');
  const context = named<{ cluster?: string; user?: string }>(config.contexts, contextName, 'context', 'context');
  const cluster = named<KubeconfigCluster>(config.clusters, context.cluster, 'cluster', 'cluster');
  const user: KubeconfigUser = context.user === undefined ? {} : named<KubeconfigUser>(config.users, context.user, 'user', 'user');
  if (!cluster.server) throw new Error(`the kubeconfig's cluster "${context.cluster ?? ''}" has no server`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new Error('the kubeconfig uses an exec or auth-provider plugin, which this client does not run: use a token or a client certificate');
  }
  const file = (path: string) => read(resolve(baseDir, path));
  const b64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');
  const pem = (data: string | undefined, path: string | undefined) => (data ? b64(data) : path ? file(path) : undefined);
  const certPem = pem(user['client-certificate-data'], user['client-certificate']);
  const keyPem = pem(user['client-key-data'], user['client-key']);
  if ((certPem === undefined) !== (keyPem === undefined)) throw new Error('the kubeconfig user has a client certificate without its key, or a key without its certificate');
  const staticToken = user.token;
  const token = staticToken !== undefined ? () => staticToken : user.tokenFile ? tokenFile(resolve(baseDir, user.tokenFile), { read }) : () => undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    caPem: pem(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    clientCert: certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined,
    token,
  };
}

/**
 * A kubeconfig file (tests, development) or the in-cluster service account. The YAML parser
 * is loaded only for a kubeconfig that is not JSON (`kubectl config view -o json` writes
 * JSON), so a pod never pays for it and a benchmark can measure the process as in a pod.
 */
export async function loadConnection(kubeconfigPath: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<KubeConnection> {
  if (kubeconfigPath === undefined) return inClusterConnection(env);
  const text = readText(kubeconfigPath);
  const doc: unknown = text.trimStart().startsWith('{') ? JSON.parse(text) : (await import('yaml')).parse(text);
  return kubeconfigConnection(doc, dirname(resolve(kubeconfigPath)));
}
