// The floatip node agent process (DaemonSet, one per node):
//   node dist/agent/main.js --node-name NAME --metadata-url URL
// Records the droplet's anchor IPv4 on the node (annotation k8s.haim.dev/anchor-ipv4).
// It needs two API calls, so it talks to the API server through shared/kube (two files in a
// pod) instead of @kubernetes/client-node: that import alone is more than the agent's budget.
import { createKubeClient } from '../shared/kube/client.ts';
import type { KubeClient } from '../shared/kube/client.ts';
import { loadConnection } from '../shared/kube/connection.ts';
import { createLogger } from '../shared/logger.ts';
import { startAgent } from './agent.ts';
import { parseAgentConfig } from './config.ts';
import { parseAgentLiveness, startAgentLiveness } from './liveness.ts';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseAgentConfig({ argv, env });
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`floatip-agent: ${parsed.message}\nRun with --help for the flags.\n`);
    return 2;
  }
  const config = parsed.config;
  const logger = createLogger({ level: config.logLevel, name: 'floatip-agent' });
  let livenessConfig;
  try {
    livenessConfig = parseAgentLiveness(env);
  } catch (err) {
    process.stderr.write(`floatip-agent: ${(err as Error).message}\n`);
    return 2;
  }
  let kube: KubeClient;
  try {
    kube = createKubeClient(await loadConnection(config.kubeconfig, env), { userAgent: 'floatip-agent' });
  } catch (err) {
    const source = config.kubeconfig ? `kubeconfig ${config.kubeconfig}` : 'in-cluster service account';
    logger.fatal({ err }, `cannot load the ${source}: ${(err as Error).message}`);
    return 1;
  }
  logger.info({ node: config.nodeName, metadataUrl: config.metadataUrl, annotation: config.annotation, intervalMs: config.intervalMs }, 'starting');
  const agent = startAgent(config, { kube, logger });
  // Indirect probes for the reconciler's liveness checks (a bind failure is logged, not fatal:
  // the anchor recorder keeps working and the reconciler just asks other agents).
  const probes = await startAgentLiveness(livenessConfig, logger).catch((err: unknown) => {
    logger.error({ err }, 'cannot answer indirect liveness probes');
    return undefined;
  });
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    agent.stop();
    kube.close();
    void probes?.close();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return agent.done;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), process.env);
  // Keep-alive sockets of the Kubernetes client must not keep a stopped agent alive.
  process.exit();
}
