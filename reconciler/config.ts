// The reconciler's configuration: flags and environment parsed once, validated, frozen.
// Pure: argv, env and file reads come in as arguments, so every message is unit-tested.
// Nothing else in the reconciler reads process.env or process.argv.
import type { LevelWithSilent } from 'pino';
import { ConfigError, DNS_LABEL, DNS_SUBDOMAIN, parseDuration, parseKey, parseLogLevel, parsePort } from '../shared/config-values.ts';
import type { ParsedConfig } from '../shared/config-values.ts';
import { DEFAULT_KEY, floatingIpKeys } from '../shared/keys.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import { DEFAULT_ANCHOR_RANGE, parseAnchorRange } from '../shared/anchors.ts';
import type { AnchorRange } from '../shared/anchors.ts';
import { parseAdoptableIps } from './adoptable.ts';
import { createPortPolicy, parsePortList } from './exposure/port-policy.ts';
import type { PortPolicy } from './exposure/port-policy.ts';
import type { AdoptableIps } from './adoptable.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { parseArgs } = process.getBuiltinModule('node:util');

export interface LeaseConfig {
  readonly name: string;
  readonly namespace: string;
  readonly durationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export interface ReconcilerConfig {
  /** DigitalOcean API token; never logged (see `describeConfig`) */
  readonly token: string;
  /** API root without /v2; undefined = the client's default (https://api.digitalocean.com) */
  readonly apiUrl: string | undefined;
  /** kubeconfig file; undefined = in-cluster service account */
  readonly kubeconfig: string | undefined;
  readonly dryRun: boolean;
  /** namespaces to watch; empty = all */
  readonly namespaces: readonly string[];
  readonly keys: FloatingIpKeys;
  readonly coolOffMs: number;
  readonly resyncIntervalMs: number;
  readonly actionExpiryMs: number;
  readonly unassignWhenUnplaced: boolean;
  /** claim policy: IPs that may be taken from droplets outside the cluster (none by default) */
  readonly adoptable: AdoptableIps;
  /** namespace IP policy (--ip-policy-file): which namespaces may claim which IPs; absent = all */
  readonly ipPolicy?: IpPolicy;
  /** the policy file, for the start-up log line */
  readonly ipPolicyFile?: string;
  /**
   * liveness probes of holder droplets (reconciler/liveness); off or absent: only heartbeats
   * and Kubernetes' node status detect a dead holder
   */
  readonly liveness?: LivenessFlags;
  /** heartbeat-based failover on node Leases; graceMs undefined = half of each Lease's duration */
  readonly heartbeat: { readonly enabled: boolean; readonly graceMs: number | undefined };
  /** Services of type LoadBalancer with this spec.loadBalancerClass get externalIPs and ingress (default: the key) */
  readonly loadBalancerClass?: string;
  /**
   * how long an assign after a lost holder waits for its Services' write (--expose-wait, 1 s);
   * a first placement or a voluntary move waits max(this, 5 s). Then the IP moves anyway.
   */
  readonly exposeWaitMs?: number;
  /** keep the cluster's floatip DigitalOcean firewall (default true; --no-firewall) */
  readonly manageFirewall?: boolean;
  /** which ports that firewall may open (--firewall-allowed-ports/--firewall-denied-ports); absent = the default policy */
  readonly firewallPorts?: PortPolicy;
  /** the lists as given, for the start-up log line */
  readonly firewallPortLists?: { readonly allowed: string; readonly denied: string };
  /** --anchor-range: a node's anchor annotation outside it is ignored (absent = 10.20.0.0/16) */
  readonly anchorRange?: AnchorRange;
  readonly lease: LeaseConfig;
  /** this replica's name (POD_NAME, else the host name); the lease identity adds a suffix */
  readonly podName: string;
  readonly bindAddress: string;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LevelWithSilent;
}

export interface LivenessFlags {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** agents asked per indirect round */
  readonly indirectProbers: number;
  /** the port probes' handshakes target on every node (the kubelet's) */
  readonly kubeletPort: number;
  /** the agents' indirect-probe port */
  readonly agentPort: number;
  /** the Secret holding the indirect-probe key, in the agents' namespace (the reconciler creates it) */
  readonly secret: { readonly namespace: string; readonly name: string };
  /** this replica's node (NODE_NAME): its agent is never asked, it shares this replica's fate */
  readonly nodeName: string | undefined;
}

export type ConfigResult = ParsedConfig<ReconcilerConfig>;

export interface ConfigInputs {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** reads DIGITALOCEAN_TOKEN_FILE and --ip-policy-file; throws like fs.readFileSync */
  readonly readFile: (path: string) => string;
  readonly hostname: string;
}

export const USAGE = `Usage: node dist/reconciler/main.js [flags]

Moves DigitalOcean reserved IPs to the droplets of ready pods annotated with --key.

Environment:
  DIGITALOCEAN_TOKEN        API token (required, or DIGITALOCEAN_TOKEN_FILE)
  DIGITALOCEAN_TOKEN_FILE   file holding the token, e.g. a mounted Secret
  DIGITALOCEAN_API_URL      API root without /v2 (default https://api.digitalocean.com)
  KUBECONFIG                kubeconfig file: a token or a client certificate, no exec or
                            auth-provider plugins (default: in-cluster service account)
  POD_NAME, POD_NAMESPACE   set by the Deployment (downward API): lease identity and namespace
  NODE_NAME                 this replica's node (downward API): its agent is never an indirect prober

Flags:
  --dry-run                    decide and log "would assign", make no DigitalOcean write calls
  --namespaces a,b             namespaces to watch (default: all)
  --key KEY                    annotation and label key (default ${DEFAULT_KEY})
  --cool-off 10s               minimum time between two moves of one IP
  --resync-interval 60s        full DigitalOcean resync period (drift repair)
  --action-expiry 5m           give up waiting for a DigitalOcean action after this long
  --unassign-when-unplaced     unassign an IP when no eligible pod claims it (default: leave it)
  --adoptable-ips LIST         IPs/CIDRs that may be taken from a droplet outside this cluster
                               (default: none; such IPs are left alone and reported)
  --ip-policy-file PATH        YAML file saying which namespaces may claim which IPs (default:
                               any namespace any IP); other addresses are ignored and reported
  --node-heartbeat-grace 20s   move an IP off a node whose kubelet Lease is older than this
                               (default: half of each Lease's duration, 20 s for kubelets)
  --no-heartbeat-failover      wait for Kubernetes to mark a silent node NotReady instead
  --liveness-interval 250ms    probe each holder droplet (TCP handshake to its InternalIP on the
                               kubelet port) and each IP's next target this often
  --liveness-timeout 300ms     a probe with no answer after this long failed; two failures in a
                               row make the holder suspect and agents on other nodes probe it
  --liveness-indirect-probers 3  agents asked per suspicion; dead only when none reaches the
                               droplet and at least one answers
  --kubelet-port 10250         the port the probes' handshakes target
  --liveness-agent-port 9406   the agents' indirect-probe port (hostNetwork)
  --liveness-secret NS/NAME    the indirect-probe key's Secret, created if missing (default
                               floatip-agent/floatip-liveness-key)
  --liveness-probes            turn the liveness probes on (the chart does; off by default, as
                               a process outside the cluster may have no route to the nodes)
  --no-liveness-probes         detect dead holders by heartbeats and node status only
  --load-balancer-class CLASS  Services of type LoadBalancer with this class get the anchors of
                               their reserved IPs' droplets as externalIPs (default: the --key)
  --expose-wait 1s             before a failover's assign, wait at most this long for the Services
                               to list the new droplet, then move anyway (a first placement or a
                               voluntary move waits up to 5 s, or this if longer)
  --no-firewall                do not keep the floatip-<cluster> DigitalOcean firewall (you open
                               the Services' ports yourself, e.g. with Terraform)
  --firewall-allowed-ports L   ports that firewall may open although closed by default (22,
                               2379-2380, 10250, 10255, 10256, 30000-32767), e.g. "tcp/22"
  --firewall-denied-ports L    more ports it never opens, e.g. "udp/53,8000-8100"
  --anchor-range CIDR          a node's anchor annotation outside it is ignored with a Warning
                               (default ${DEFAULT_ANCHOR_RANGE})
  --lease-name NAME            leader election Lease (default floatip-reconciler)
  --lease-namespace NS         namespace of the Lease (default POD_NAMESPACE or floatip-system)
  --lease-duration 4s          how long a lease is valid without renewal
  --lease-renew-deadline 2.5s  the leader steps down when it cannot renew for this long
  --lease-retry-period 500ms   how often standbys try to acquire and the leader renews
  --kubeconfig PATH            overrides KUBECONFIG
  --bind-address ADDR          address of the health and metrics servers (default 127.0.0.1)
  --health-port 8081           /healthz and /readyz (0 = any free port)
  --metrics-port 8080          /metrics (may equal --health-port; 0 = any free port)
  --shutdown-timeout 10s       upper bound for a graceful stop on SIGTERM
  --log-level info             fatal, error, warn, info, debug, trace or silent
  --help                       print this text
`;

function parseNamespaces(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (name.length > 63 || !DNS_LABEL.test(name)) {
      throw new ConfigError(`--namespaces: "${name}" is not a valid namespace name (lower-case letters, digits and "-", e.g. "default,web")`);
    }
  }
  return [...new Set(names)];
}

/** Kubernetes wants a domain-prefixed name here ("example.com/name"); the CCM ignores other classes. */
function parseLoadBalancerClass(text: string): string {
  const slash = text.indexOf('/');
  const prefix = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (slash <= 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix) || name.length === 0 || name.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name)) {
    throw new ConfigError(`--load-balancer-class "${text}" is not a domain-prefixed name (e.g. ${DEFAULT_KEY})`);
  }
  return text;
}

function parseApiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`DIGITALOCEAN_API_URL "${text}" is not a URL (e.g. https://api.digitalocean.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`DIGITALOCEAN_API_URL must use http or https (got "${text}")`);
  }
  // The client appends /v2 itself; accept a pasted ".../v2" rather than calling /v2/v2.
  return url.toString().replace(/\/+$/, '').replace(/\/v2$/, '');
}

function readToken(inputs: ConfigInputs): string {
  const direct = inputs.env['DIGITALOCEAN_TOKEN'];
  const file = inputs.env['DIGITALOCEAN_TOKEN_FILE'];
  if (direct && file) throw new ConfigError('set only one of DIGITALOCEAN_TOKEN and DIGITALOCEAN_TOKEN_FILE');
  let token = direct?.trim() ?? '';
  if (file) {
    try {
      token = inputs.readFile(file).trim();
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'unreadable';
      throw new ConfigError(`DIGITALOCEAN_TOKEN_FILE ${file} cannot be read (${code})`);
    }
    if (token === '') throw new ConfigError(`DIGITALOCEAN_TOKEN_FILE ${file} is empty`);
  }
  if (token === '') {
    throw new ConfigError('DIGITALOCEAN_TOKEN is not set: create an API token with write scope and set DIGITALOCEAN_TOKEN or DIGITALOCEAN_TOKEN_FILE');
  }
  return token;
}

function readIpPolicy(inputs: ConfigInputs, path: string): IpPolicy {
  let text: string;
  try {
    text = inputs.readFile(path);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unreadable';
    throw new ConfigError(`--ip-policy-file ${path} cannot be read (${code})`);
  }
  return parseIpPolicy(text, `--ip-policy-file ${path}`);
}

/** lease duration − renew deadline, at least: see the check in parseOrThrow */
export const MIN_FENCING_MARGIN_MS = 500;

const FLAGS = {
  'dry-run': { type: 'boolean' },
  namespaces: { type: 'string' },
  key: { type: 'string' },
  'cool-off': { type: 'string' },
  'resync-interval': { type: 'string' },
  'expose-wait': { type: 'string' },
  'action-expiry': { type: 'string' },
  'unassign-when-unplaced': { type: 'boolean' },
  'adoptable-ips': { type: 'string' },
  'ip-policy-file': { type: 'string' },
  'node-heartbeat-grace': { type: 'string' },
  'no-heartbeat-failover': { type: 'boolean' },
  'liveness-interval': { type: 'string' },
  'liveness-timeout': { type: 'string' },
  'liveness-indirect-probers': { type: 'string' },
  'kubelet-port': { type: 'string' },
  'liveness-agent-port': { type: 'string' },
  'liveness-secret': { type: 'string' },
  'liveness-probes': { type: 'boolean' },
  'no-liveness-probes': { type: 'boolean' },
  'load-balancer-class': { type: 'string' },
  'no-firewall': { type: 'boolean' },
  'firewall-allowed-ports': { type: 'string' },
  'firewall-denied-ports': { type: 'string' },
  'anchor-range': { type: 'string' },
  'lease-name': { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-duration': { type: 'string' },
  'lease-renew-deadline': { type: 'string' },
  'lease-retry-period': { type: 'string' },
  kubeconfig: { type: 'string' },
  'bind-address': { type: 'string' },
  'health-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

export function parseConfig(inputs: ConfigInputs): ConfigResult {
  try {
    return parseOrThrow(inputs);
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'error', message: err.message };
    // parseArgs errors (unknown flag, missing value) read well; their first line is enough.
    if (err instanceof TypeError) return { kind: 'error', message: err.message.split('\n')[0] ?? err.message };
    throw err;
  }
}

function parseOrThrow(inputs: ConfigInputs): ConfigResult {
  const { values: v } = parseArgs({ args: [...inputs.argv], options: FLAGS, strict: true, allowPositionals: false });
  if (v.help) return { kind: 'help', text: USAGE };
  const env = inputs.env;

  const logLevel = parseLogLevel(v['log-level'] ?? 'info');

  const lease: LeaseConfig = {
    name: v['lease-name'] ?? 'floatip-reconciler',
    namespace: v['lease-namespace'] ?? env['POD_NAMESPACE'] ?? 'floatip-system',
    // In the spirit of kube-vip's 5 s / 3 s / 1 s: a standby counts the duration from when it
    // observed the last renewal (up to a retry period late), so 4 s and a 0.5 s retry make it
    // lead 3.5–4.5 s after the leader's droplet died silently, and a holder dying with the
    // leader moves within 6 s with the probes' ~1.2 s (two Lease writes a second are cheap).
    durationMs: parseDuration('lease-duration', v['lease-duration'] ?? '4s'),
    renewDeadlineMs: parseDuration('lease-renew-deadline', v['lease-renew-deadline'] ?? '2.5s'),
    // client-go uses 2s; 0.5 s also shortens the hand-over after a release (standbys poll the Lease).
    retryPeriodMs: parseDuration('lease-retry-period', v['lease-retry-period'] ?? '500ms'),
  };
  if (!DNS_SUBDOMAIN.test(lease.name)) throw new ConfigError(`--lease-name "${lease.name}" is not a valid object name`);
  if (!DNS_LABEL.test(lease.namespace)) throw new ConfigError(`--lease-namespace "${lease.namespace}" is not a valid namespace name`);
  // The same safety rules as client-go: the leader must give up before anyone may take over.
  if (lease.durationMs <= lease.renewDeadlineMs) throw new ConfigError('--lease-duration must be greater than --lease-renew-deadline');
  // The leader stops writing at its renew deadline; a standby may take over at the lease's
  // expiry. The difference is the margin for a DigitalOcean request already on the wire.
  if (lease.durationMs - lease.renewDeadlineMs < MIN_FENCING_MARGIN_MS) {
    throw new ConfigError(`--lease-duration must exceed --lease-renew-deadline by at least ${MIN_FENCING_MARGIN_MS} ms (the margin for a request in flight when the leader steps down)`);
  }
  if (lease.renewDeadlineMs <= lease.retryPeriodMs * 1.2) throw new ConfigError('--lease-renew-deadline must be greater than 1.2 × --lease-retry-period');

  const kubeconfig = v.kubeconfig ?? (env['KUBECONFIG'] || undefined);
  if (kubeconfig === undefined && !env['KUBERNETES_SERVICE_HOST']) {
    throw new ConfigError('KUBECONFIG is not set and this is not a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG or --kubeconfig');
  }

  const config: ReconcilerConfig = {
    token: readToken(inputs),
    apiUrl: env['DIGITALOCEAN_API_URL'] ? parseApiUrl(env['DIGITALOCEAN_API_URL']) : undefined,
    kubeconfig,
    dryRun: v['dry-run'] ?? false,
    namespaces: v.namespaces === undefined ? [] : parseNamespaces(v.namespaces),
    keys: floatingIpKeys(parseKey(v.key ?? DEFAULT_KEY)),
    coolOffMs: parseDuration('cool-off', v['cool-off'] ?? '10s'),
    resyncIntervalMs: parseDuration('resync-interval', v['resync-interval'] ?? '60s'),
    actionExpiryMs: parseDuration('action-expiry', v['action-expiry'] ?? '5m'),
    unassignWhenUnplaced: v['unassign-when-unplaced'] ?? false,
    adoptable: parseAdoptableIps(v['adoptable-ips']),
    ...(v['ip-policy-file'] === undefined ? {} : { ipPolicy: readIpPolicy(inputs, v['ip-policy-file']), ipPolicyFile: v['ip-policy-file'] }),
    heartbeat: {
      enabled: !(v['no-heartbeat-failover'] ?? false),
      graceMs: v['node-heartbeat-grace'] === undefined ? undefined : parseDuration('node-heartbeat-grace', v['node-heartbeat-grace']),
    },
    // a class needs a domain prefix; a key without one leaves the default class
    liveness: parseLiveness(v, env),
    loadBalancerClass: parseLoadBalancerClass(v['load-balancer-class'] ?? (v.key?.includes('/') ? v.key : DEFAULT_KEY)),
    exposeWaitMs: parseDuration('expose-wait', v['expose-wait'] ?? '1s', true),
    manageFirewall: !(v['no-firewall'] ?? false),
    ...(v['firewall-allowed-ports'] === undefined && v['firewall-denied-ports'] === undefined
      ? {}
      : {
          firewallPorts: createPortPolicy({
            allowed: parsePortList(v['firewall-allowed-ports'], '--firewall-allowed-ports'),
            denied: parsePortList(v['firewall-denied-ports'], '--firewall-denied-ports'),
          }),
          firewallPortLists: { allowed: v['firewall-allowed-ports'] ?? '', denied: v['firewall-denied-ports'] ?? '' },
        }),
    ...(v['anchor-range'] === undefined ? {} : { anchorRange: parseAnchorRange(v['anchor-range']) }),
    lease,
    podName: env['POD_NAME'] || inputs.hostname,
    bindAddress: v['bind-address'] ?? '127.0.0.1',
    healthPort: parsePort('health-port', v['health-port'] ?? '8081'),
    metricsPort: parsePort('metrics-port', v['metrics-port'] ?? '8080'),
    shutdownTimeoutMs: parseDuration('shutdown-timeout', v['shutdown-timeout'] ?? '10s'),
    logLevel,
  };
  return { kind: 'ok', config: Object.freeze(config) };
}

function parseLiveness(v: { readonly [k: string]: string | boolean | undefined }, env: ConfigInputs['env']): LivenessFlags {
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  const intervalMs = parseDuration('liveness-interval', str('liveness-interval') ?? '250ms');
  const timeoutMs = parseDuration('liveness-timeout', str('liveness-timeout') ?? '300ms');
  if (timeoutMs > 5_000) throw new ConfigError(`--liveness-timeout must be at most 5s (got "${str('liveness-timeout')}")`);
  if (intervalMs < 50) throw new ConfigError(`--liveness-interval must be at least 50ms (got "${str('liveness-interval')}")`);
  const probersText = str('liveness-indirect-probers') ?? '3';
  const indirectProbers = /^\d{1,2}$/.test(probersText) ? Number(probersText) : Number.NaN;
  if (!(indirectProbers >= 1 && indirectProbers <= 10)) throw new ConfigError(`--liveness-indirect-probers must be a number from 1 to 10 (got "${probersText}")`);
  const kubeletPort = parsePort('kubelet-port', str('kubelet-port') ?? '10250');
  const agentPort = parsePort('liveness-agent-port', str('liveness-agent-port') ?? '9406');
  if (kubeletPort === 0 || agentPort === 0) throw new ConfigError('--kubelet-port and --liveness-agent-port must not be 0');
  const secretText = str('liveness-secret') ?? 'floatip-agent/floatip-liveness-key';
  const [namespace, name, ...extra] = secretText.split('/');
  if (extra.length > 0 || !namespace || !name || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) {
    throw new ConfigError(`--liveness-secret must be NAMESPACE/NAME (got "${secretText}")`);
  }
  // Off unless asked for: probes go to every holder's InternalIP, which only the cluster's own
  // network should carry (the chart asks; a process run elsewhere — a laptop, a test — must not).
  const enabled = v['liveness-probes'] === true && v['no-liveness-probes'] !== true;
  return { enabled, intervalMs, timeoutMs, indirectProbers, kubeletPort, agentPort, secret: { namespace, name }, nodeName: env['NODE_NAME'] || undefined };
}

/** The config as a log line: everything but the token. */
export function describeConfig(config: ReconcilerConfig): Record<string, unknown> {
  const { token: _token, keys, lease, adoptable, ipPolicy: _ipPolicy, firewallPorts: _ports, anchorRange, ...rest } = config;
  return { ...rest, key: keys.annotation, lease: { ...lease }, adoptableIps: adoptable.entries, anchorRange: anchorRange?.cidr ?? DEFAULT_ANCHOR_RANGE, tokenSet: true };
}
