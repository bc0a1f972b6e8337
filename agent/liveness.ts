// The agent's part of liveness: its indirect-probe endpoint, configured from the environment
// (the chart sets it; flags stay the anchor recorder's):
//   FLOATIP_LIVENESS_PORT      port of POST /v1/probe (default 9406; 0 = off)
//   FLOATIP_LIVENESS_KEY_FILE  the mounted key (default /etc/floatip/liveness/key)
//   FLOATIP_KUBELET_PORT       the only port it probes (default 10250)
//   HOST_IP                    where it listens (downward API status.hostIP; default 0.0.0.0):
//                              the node's VPC address, not its public one
// The key file is re-read when it changes (kubelet updates a mounted Secret in place), so a
// key created after the agent started is picked up without a restart.
import { isIP } from 'node:net';
import { ConfigError, parsePort } from '../shared/config-values.ts';
import { MIN_KEY_BYTES } from '../shared/liveness-auth.ts';
import type { Logger } from '../shared/logger.ts';
import { startProbeServer } from './probe-server.ts';
import type { RunningProbeServer } from './probe-server.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');

export const DEFAULT_LIVENESS_PORT = 9406;
export const DEFAULT_KEY_FILE = '/etc/floatip/liveness/key';

export interface AgentLivenessConfig {
  /** 0: off */
  readonly port: number;
  readonly keyFile: string;
  readonly kubeletPort: number;
  readonly host: string;
}

export function parseAgentLiveness(env: Readonly<Record<string, string | undefined>>): AgentLivenessConfig {
  const port = parsePort('FLOATIP_LIVENESS_PORT', env['FLOATIP_LIVENESS_PORT'] || String(DEFAULT_LIVENESS_PORT));
  const kubeletPort = parsePort('FLOATIP_KUBELET_PORT', env['FLOATIP_KUBELET_PORT'] || '10250');
  if (kubeletPort === 0) throw new ConfigError('FLOATIP_KUBELET_PORT must not be 0');
  const host = env['HOST_IP'] || '0.0.0.0';
  if (isIP(host) === 0) throw new ConfigError(`HOST_IP must be an IP address (got "${host}")`);
  return { port, keyFile: env['FLOATIP_LIVENESS_KEY_FILE'] || DEFAULT_KEY_FILE, kubeletPort, host };
}

/** The key as the file holds it now; undefined while missing or too short. Checked at most once a second. */
export function keyFileReader(path: string, now: () => number = Date.now): () => Buffer | undefined {
  let key: Buffer | undefined;
  let mtimeMs = -1;
  let checkedMs = -Infinity;
  return () => {
    const t = now();
    if (t - checkedMs < 1_000) return key;
    checkedMs = t;
    try {
      const st = statSync(path);
      if (st.mtimeMs !== mtimeMs) {
        mtimeMs = st.mtimeMs;
        const bytes = readFileSync(path);
        key = bytes.length >= MIN_KEY_BYTES ? bytes : undefined;
      }
    } catch {
      key = undefined;
      mtimeMs = -1;
    }
    return key;
  };
}

export async function startAgentLiveness(config: AgentLivenessConfig, logger: Logger): Promise<RunningProbeServer | undefined> {
  if (config.port === 0) return undefined;
  const server = await startProbeServer({ host: config.host, port: config.port, probePort: config.kubeletPort, key: keyFileReader(config.keyFile), logger });
  logger.info({ address: `${config.host}:${server.port}`, kubeletPort: config.kubeletPort }, 'answering indirect liveness probes');
  return server;
}
