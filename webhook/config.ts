// The webhook's configuration: flags, then environment, then defaults; parsed once,
// validated, frozen. Pure (argv and env come in), so every message is unit-tested.
// Nothing else in the webhook reads process.env or process.argv.
import type { LevelWithSilent } from 'pino';
import { ConfigError, DNS_LABEL, DNS_SUBDOMAIN, parseDuration, parseKey, parseLogLevel, parsePort } from '../shared/config-values.ts';
import type { ParsedConfig } from '../shared/config-values.ts';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import { DEFAULT_KEY, floatingIpKeys } from '../shared/keys.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { parseArgs } = process.getBuiltinModule('node:util');

export type TlsConfig =
  | { readonly mode: 'files'; readonly certPath: string; readonly keyPath: string; readonly pollMs: number }
  | {
      readonly mode: 'self-signed';
      readonly namespace: string;
      readonly service: string;
      readonly secret: string;
      readonly mutatingConfiguration: string;
      readonly validatingConfiguration: string;
      readonly clusterDomain: string;
      /** how often the Secret and caBundle are re-checked (renewal, other replicas) */
      readonly checkIntervalMs: number;
    };

export interface WebhookConfig {
  readonly bindAddress: string;
  readonly port: number;
  readonly tls: TlsConfig;
  readonly keys: FloatingIpKeys;
  /** namespace IP policy (--ip-policy-file): which namespaces may claim which IPs; absent = all */
  readonly ipPolicy?: IpPolicy;
  readonly kubeconfig: string | undefined;
  /** on SIGTERM: report not-ready this long before closing, so endpoints drop the pod first */
  readonly shutdownDelayMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LevelWithSilent;
}

export type ConfigResult = ParsedConfig<WebhookConfig>;

export const USAGE = `Usage: node dist/webhook/main.js [flags]

Admission webhook of floatip: rejects invalid ${DEFAULT_KEY} annotations on Pods and
workload templates, and labels annotated Pods for the reconciler.

Flags (environment variable in brackets; a flag wins over its variable):
  --port 8443                    HTTPS port (0 = any free port) [FLOATIP_WEBHOOK_PORT]
  --bind-address 127.0.0.1       listen address; 0.0.0.0 or :: in a pod [FLOATIP_WEBHOOK_BIND_ADDRESS]
  --tls-cert FILE                serving certificate (PEM), reloaded when it changes [FLOATIP_WEBHOOK_TLS_CERT]
  --tls-key FILE                 its private key (PEM) [FLOATIP_WEBHOOK_TLS_KEY]
  --tls-poll-interval 10s        re-read the files this often, besides file-change events
  --self-signed-tls              instead of files: keep a CA and serving cert in a Secret and
                                 patch the caBundle of both webhook configurations [FLOATIP_WEBHOOK_SELF_SIGNED_TLS=true]
  --namespace NS                 namespace of the Service and Secret (default POD_NAMESPACE or floatip-system)
  --service NAME                 Service in front of the webhook (default floatip-webhook)
  --tls-secret NAME              Secret holding the CA and cert (default floatip-webhook-tls)
  --mutating-configuration NAME  MutatingWebhookConfiguration to patch (default floatip)
  --validating-configuration NAME  ValidatingWebhookConfiguration to patch (default floatip)
  --cluster-domain DOMAIN        cluster DNS domain for the certificate (default cluster.local)
  --tls-check-interval 10m       re-check the Secret and caBundle this often (self-signed mode)
  --key KEY                      annotation and label key (default ${DEFAULT_KEY}) [FLOATIP_KEY]
  --ip-policy-file PATH          YAML file saying which namespaces may claim which reserved IPs;
                                 other addresses are denied (default: any namespace any IP)
  --kubeconfig PATH              kubeconfig for self-signed mode (default KUBECONFIG or in-cluster)
  --shutdown-delay 2s            on SIGTERM, answer /readyz 503 this long before closing
  --shutdown-timeout 10s         then wait at most this long for in-flight reviews
  --log-level info               fatal, error, warn, info, debug, trace or silent [FLOATIP_LOG_LEVEL]
  --help                         print this text

Exactly one of --tls-cert/--tls-key and --self-signed-tls is required.
`;

function dnsName(flag: string, text: string, pattern: RegExp, max: number): string {
  if (text.length > max || !pattern.test(text)) {
    throw new ConfigError(`--${flag} "${text}" is not a valid Kubernetes name (lower-case letters, digits and "-")`);
  }
  return text;
}

function parseBool(name: string, text: string | undefined): boolean {
  if (text === undefined || text === '' || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1') return true;
  throw new ConfigError(`${name} must be true or false (got "${text}")`);
}

const FLAGS = {
  port: { type: 'string' },
  'bind-address': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-poll-interval': { type: 'string' },
  'self-signed-tls': { type: 'boolean' },
  namespace: { type: 'string' },
  service: { type: 'string' },
  'tls-secret': { type: 'string' },
  'mutating-configuration': { type: 'string' },
  'validating-configuration': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'tls-check-interval': { type: 'string' },
  key: { type: 'string' },
  'ip-policy-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  'shutdown-delay': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Reads --ip-policy-file; throws like fs.readFileSync. main.ts passes the real one. */
export type ReadFile = (path: string) => string;

const noFiles: ReadFile = (path) => {
  throw Object.assign(new Error(`no file reader for ${path}`), { code: 'ENOENT' });
};

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile: ReadFile = noFiles): ConfigResult {
  try {
    return parseOrThrow(argv, env, readFile);
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'error', message: err.message };
    // parseArgs errors (unknown flag, missing value) read well; their first line is enough.
    if (err instanceof TypeError) return { kind: 'error', message: err.message.split('\n')[0] ?? err.message };
    throw err;
  }
}

function readIpPolicy(readFile: ReadFile, path: string): IpPolicy {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unreadable';
    throw new ConfigError(`--ip-policy-file ${path} cannot be read (${code})`);
  }
  return parseIpPolicy(text, `--ip-policy-file ${path}`);
}

function parseOrThrow(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile: ReadFile): ConfigResult {
  const { values, positionals } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
  if (values.help) return { kind: 'help', text: USAGE };
  if (positionals.length > 0) throw new ConfigError(`unexpected argument "${positionals[0]}" (see --help)`);
  const pick = (flag: keyof typeof FLAGS, envName?: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = envName ? env[envName] : undefined;
    return e === undefined || e === '' ? undefined : e;
  };

  const certPath = pick('tls-cert', 'FLOATIP_WEBHOOK_TLS_CERT');
  const keyPath = pick('tls-key', 'FLOATIP_WEBHOOK_TLS_KEY');
  const selfSigned = values['self-signed-tls'] === true || parseBool('FLOATIP_WEBHOOK_SELF_SIGNED_TLS', env['FLOATIP_WEBHOOK_SELF_SIGNED_TLS']);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new ConfigError(certPath === undefined ? '--tls-key needs --tls-cert as well' : '--tls-cert needs --tls-key as well');
  }
  if (selfSigned && certPath !== undefined) throw new ConfigError('use either --tls-cert/--tls-key or --self-signed-tls, not both');
  if (!selfSigned && certPath === undefined) {
    throw new ConfigError('no TLS configured: pass --tls-cert FILE --tls-key FILE, or --self-signed-tls (see --help)');
  }

  let tls: TlsConfig;
  if (certPath !== undefined && keyPath !== undefined) {
    tls = { mode: 'files', certPath, keyPath, pollMs: parseDuration('tls-poll-interval', pick('tls-poll-interval') ?? '10s') };
  } else {
    const name = (flag: keyof typeof FLAGS, fallback: string) => dnsName(flag, pick(flag) ?? fallback, DNS_SUBDOMAIN, 253);
    tls = {
      mode: 'self-signed',
      namespace: dnsName('namespace', pick('namespace', 'POD_NAMESPACE') ?? 'floatip-system', DNS_LABEL, 63),
      service: dnsName('service', pick('service') ?? 'floatip-webhook', DNS_LABEL, 63),
      secret: name('tls-secret', 'floatip-webhook-tls'),
      mutatingConfiguration: name('mutating-configuration', 'floatip'),
      validatingConfiguration: name('validating-configuration', 'floatip'),
      clusterDomain: name('cluster-domain', 'cluster.local'),
      checkIntervalMs: parseDuration('tls-check-interval', pick('tls-check-interval') ?? '10m'),
    };
  }

  const logLevel = parseLogLevel(pick('log-level', 'FLOATIP_LOG_LEVEL') ?? 'info');
  const bindAddress = pick('bind-address', 'FLOATIP_WEBHOOK_BIND_ADDRESS') ?? '127.0.0.1';

  const config: WebhookConfig = {
    bindAddress,
    port: parsePort('port', pick('port', 'FLOATIP_WEBHOOK_PORT') ?? '8443'),
    tls,
    keys: floatingIpKeys(parseKey(pick('key', 'FLOATIP_KEY') ?? DEFAULT_KEY)),
    ...(typeof values['ip-policy-file'] === 'string' ? { ipPolicy: readIpPolicy(readFile, values['ip-policy-file']) } : {}),
    kubeconfig: pick('kubeconfig', 'KUBECONFIG'),
    shutdownDelayMs: parseDuration('shutdown-delay', pick('shutdown-delay') ?? '2s', true),
    shutdownTimeoutMs: parseDuration('shutdown-timeout', pick('shutdown-timeout') ?? '10s'),
    logLevel,
  };
  return { kind: 'ok', config: Object.freeze(config) };
}
