// The node agent's configuration: flags and environment parsed once, validated, frozen.
// Pure (argv and env come in as arguments), so every message is unit-tested.
import type { LevelWithSilent } from 'pino';
import { ConfigError, DNS_SUBDOMAIN, parseDuration, parseKey, parseLogLevel } from '../shared/config-values.ts';
import type { ParsedConfig } from '../shared/config-values.ts';
import { anchorAnnotationKey, DEFAULT_KEY } from '../shared/keys.ts';
import { DEFAULT_ANCHOR_RANGE, parseAnchorRange } from '../shared/anchors.ts';
import type { AnchorRange } from '../shared/anchors.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { parseArgs } = process.getBuiltinModule('node:util');

export const DEFAULT_METADATA_URL = 'http://169.254.169.254';
/** where DigitalOcean's metadata service answers with the droplet's anchor IPv4, as text */
export const ANCHOR_PATH = '/metadata/v1/interfaces/public/0/anchor_ipv4/address';

export interface AgentConfig {
  readonly nodeName: string;
  /** metadata service root, without a trailing slash */
  readonly metadataUrl: string;
  /** Node annotation that receives the anchor IPv4 */
  readonly annotation: string;
  /** kubeconfig file; undefined = in-cluster service account */
  readonly kubeconfig: string | undefined;
  /** re-read the metadata and re-check the annotation this often */
  readonly intervalMs: number;
  /** per metadata request */
  readonly metadataTimeoutMs: number;
  /** --anchor-range: only an address in it is recorded; absent = 10.20.0.0/16 */
  readonly anchorRange?: AnchorRange;
  readonly logLevel: LevelWithSilent;
}

export type AgentConfigResult = ParsedConfig<AgentConfig>;

export const USAGE = `Usage: node dist/agent/main.js --node-name NAME --metadata-url URL [flags]

Reads this droplet's anchor IPv4 from DigitalOcean's metadata service and records it on
this node as annotation ${anchorAnnotationKey()} (the reconciler puts it in the
externalIPs of Services of class ${DEFAULT_KEY}). Runs on every node (DaemonSet).

Environment:
  NODE_NAME                 default of --node-name (downward API: spec.nodeName)
  KUBECONFIG                kubeconfig file (default: in-cluster service account)

Flags:
  --node-name NAME          the node this agent runs on
  --metadata-url URL        metadata service root (default ${DEFAULT_METADATA_URL})
  --key KEY                 floatip's key; the annotation is its prefix + /anchor-ipv4 (default ${DEFAULT_KEY})
  --interval 60s            re-read the metadata and re-check the annotation this often
  --metadata-timeout 2s     timeout of one metadata request
  --anchor-range CIDR       only an anchor inside it is recorded (default ${DEFAULT_ANCHOR_RANGE})
  --kubeconfig PATH         overrides KUBECONFIG
  --log-level info          fatal, error, warn, info, debug, trace or silent
  --help                    print this text

Exit codes: 0 after SIGTERM/SIGINT or --help, 2 for a configuration error, 1 when the
metadata service is unreachable or has no anchor IPv4 for this droplet.
`;

const FLAGS = {
  'node-name': { type: 'string' },
  'metadata-url': { type: 'string' },
  key: { type: 'string' },
  interval: { type: 'string' },
  'metadata-timeout': { type: 'string' },
  'anchor-range': { type: 'string' },
  kubeconfig: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function parseMetadataUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--metadata-url "${text}" is not a URL (e.g. ${DEFAULT_METADATA_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`--metadata-url must use http or https (got "${text}")`);
  }
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`--metadata-url must not carry a query or fragment (got "${text}")`);
  return url.toString().replace(/\/+$/, '');
}

function parseNodeName(text: string | undefined): string {
  if (text === undefined || text === '') {
    throw new ConfigError('the node name is not set: pass --node-name or set NODE_NAME (downward API fieldRef spec.nodeName)');
  }
  if (text.length > 253 || !DNS_SUBDOMAIN.test(text)) throw new ConfigError(`--node-name "${text}" is not a valid node name`);
  return text;
}

export function parseAgentConfig(inputs: { readonly argv: readonly string[]; readonly env: Readonly<Record<string, string | undefined>> }): AgentConfigResult {
  try {
    const { values: v } = parseArgs({ args: [...inputs.argv], options: FLAGS, strict: true, allowPositionals: false });
    if (v.help) return { kind: 'help', text: USAGE };
    const env = inputs.env;
    const kubeconfig = v.kubeconfig ?? (env['KUBECONFIG'] || undefined);
    if (kubeconfig === undefined && !env['KUBERNETES_SERVICE_HOST']) {
      throw new ConfigError('KUBECONFIG is not set and this is not a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG or --kubeconfig');
    }
    const config: AgentConfig = {
      nodeName: parseNodeName(v['node-name'] ?? env['NODE_NAME']),
      metadataUrl: parseMetadataUrl(v['metadata-url'] ?? DEFAULT_METADATA_URL),
      annotation: anchorAnnotationKey(parseKey(v.key ?? DEFAULT_KEY)),
      kubeconfig,
      intervalMs: parseDuration('interval', v.interval ?? '60s'),
      metadataTimeoutMs: parseDuration('metadata-timeout', v['metadata-timeout'] ?? '2s'),
      ...(v['anchor-range'] === undefined ? {} : { anchorRange: parseAnchorRange(v['anchor-range']) }),
      logLevel: parseLogLevel(v['log-level'] ?? 'info'),
    };
    return { kind: 'ok', config: Object.freeze(config) };
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'error', message: err.message };
    // parseArgs errors (unknown flag, missing value) read well; their first line is enough.
    if (err instanceof TypeError) return { kind: 'error', message: err.message.split('\n')[0] ?? err.message };
    throw err;
  }
}
