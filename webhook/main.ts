// Entry point: node dist/webhook/main.js --port 8443 --tls-cert FILE --tls-key FILE
//          or: node dist/webhook/main.js --self-signed-tls (in the cluster)
// Exit codes: 0 after a clean shutdown or --help, 2 for a configuration error, 1 when the
// server cannot start (unreadable certificate, port in use, no access to the Secret).
import { createKubeClient } from '../shared/kube/client.ts';
import { loadConnection } from '../shared/kube/connection.ts';
import { createLogger } from '../shared/logger.ts';
import type { Logger } from '../shared/logger.ts';
import { parseConfig } from './config.ts';
import type { WebhookConfig } from './config.ts';
import { createWebhookMetrics } from './metrics.ts';
import { startWebhookServer } from './server.ts';
import type { RunningWebhookServer } from './server.ts';
import { readTlsFiles, watchTlsFiles } from './tls/files.ts';
import type { TlsMaterial } from './tls/files.ts';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from './tls/certs.ts';
import { DEFAULT_POLICY } from './tls/rotation.ts';
import { startSelfManagedTls } from './tls/self-managed.ts';
import { kubeCaBundleTarget, kubeSecretStore } from './tls/kube.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { readFileSync } = process.getBuiltinModule('node:fs');

interface TlsSource {
  readonly initial: TlsMaterial;
  /** start delivering changes to the running server */
  follow(server: RunningWebhookServer): void;
  stop(): void;
}

function fileTls(config: Extract<WebhookConfig['tls'], { mode: 'files' }>, logger: Logger): TlsSource {
  const initial = readTlsFiles(config.certPath, config.keyPath);
  let watch: { close(): void } | undefined;
  return {
    initial,
    follow(server) {
      watch = watchTlsFiles({
        certPath: config.certPath,
        keyPath: config.keyPath,
        current: initial,
        pollMs: config.pollMs,
        onChange: (m) => server.setTls(m, 'file'),
        onError: (err) => logger.warn({ err }, 'TLS files changed but cannot be used yet; keeping the current certificate'),
      });
    },
    stop: () => watch?.close(),
  };
}

async function selfSignedTls(config: WebhookConfig, logger: Logger): Promise<TlsSource> {
  if (config.tls.mode !== 'self-signed') throw new Error('unreachable');
  const t = config.tls;
  // A few calls at start-up and once an interval: shared/kube, not client-node (~70 MiB).
  const kc = createKubeClient(await loadConnection(config.kubeconfig, process.env), { userAgent: 'floatip-webhook' });
  let server: RunningWebhookServer | undefined;
  const managed = await startSelfManagedTls({
    store: kubeSecretStore(kc, t.namespace, t.secret),
    bundle: kubeCaBundleTarget(kc, t.mutatingConfiguration, t.validatingConfiguration),
    hosts: serviceDnsNames(t.service, t.namespace, t.clusterDomain),
    policy: DEFAULT_POLICY,
    factory: {
      newCa: (now) => createCertificateAuthority({ now, validityMs: DEFAULT_POLICY.caValidityMs }),
      issue: (ca, now, hosts) => issueServingCertificate(ca, { now, validityMs: DEFAULT_POLICY.certValidityMs, hosts }),
    },
    logger: logger.child({ secret: `${t.namespace}/${t.secret}` }),
    intervalMs: t.checkIntervalMs,
    onChange: (m) => server?.setTls(m, 'secret'),
  });
  return {
    initial: managed.initial,
    follow: (s) => {
      server = s;
    },
    stop: () => {
      managed.stop();
      kc.close();
    },
  };
}

async function main(): Promise<number> {
  const parsed = parseConfig(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`floatip-webhook: ${parsed.message}\n`);
    return 2;
  }
  const config = parsed.config;
  const logger = createLogger({ name: 'floatip-webhook', level: config.logLevel });
  let tls: TlsSource;
  let server: RunningWebhookServer;
  try {
    tls = config.tls.mode === 'files' ? fileTls(config.tls, logger) : await selfSignedTls(config, logger);
    server = await startWebhookServer({
      tls: tls.initial,
      host: config.bindAddress,
      port: config.port,
      keys: config.keys,
      ...(config.ipPolicy !== undefined ? { ipPolicy: config.ipPolicy } : {}),
      logger,
      metrics: createWebhookMetrics({ defaultMetrics: true }),
    });
  } catch (err) {
    logger.fatal({ err }, 'webhook cannot start');
    process.stderr.write(`floatip-webhook: ${(err as Error).message}\n`);
    return 1;
  }
  tls.follow(server);
  logger.info({ url: server.url, tls: config.tls.mode, key: config.keys.annotation }, 'webhook ready');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      // Not ready first, so the endpoint leaves the Service before the listener closes.
      logger.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down');
      server.setReady(false);
      await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      tls.stop();
      await server.close({ graceMs: config.shutdownTimeoutMs });
      logger.info('stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}

// Exit explicitly: a kube client keep-alive socket must not hold a stopped process open.
process.exit(await main());
