import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from './config.ts';
import type { AgentConfig } from './config.ts';

const ENV = { NODE_NAME: 'pool-a-1', KUBECONFIG: 'kubeconfig.yaml' };

function ok(argv: string[], env: Record<string, string> = ENV): AgentConfig {
  const result = parseAgentConfig({ argv, env });
  assert.equal(result.kind, 'ok', result.kind === 'error' ? result.message : result.kind);
  return (result as { config: AgentConfig }).config;
}

function error(argv: string[], env: Record<string, string> = ENV): string {
  const result = parseAgentConfig({ argv, env });
  assert.equal(result.kind, 'error');
  return (result as { message: string }).message;
}

test('defaults: NODE_NAME, the link-local metadata service, the default key prefix', () => {
  assert.deepEqual(ok([]), {
    nodeName: 'pool-a-1',
    metadataUrl: 'http://169.254.169.254',
    annotation: 'k8s.haim.dev/anchor-ipv4',
    kubeconfig: 'kubeconfig.yaml',
    intervalMs: 60_000,
    metadataTimeoutMs: 2_000,
    logLevel: 'info',
  });
});

test('the contract command line: --node-name and --metadata-url override the environment', () => {
  const c = ok(['--node-name', 'pool-b-7', '--metadata-url', 'http://127.0.0.1:9000/_metadata/1001/']);
  assert.equal(c.nodeName, 'pool-b-7');
  assert.equal(c.metadataUrl, 'http://127.0.0.1:9000/_metadata/1001', 'trailing slash dropped: paths are appended');
});

test('a custom --key moves the annotation with its prefix', () => {
  assert.equal(ok(['--key', 'example.com/vip']).annotation, 'example.com/anchor-ipv4');
  assert.equal(ok(['--key', 'vip']).annotation, 'anchor-ipv4');
});

test('in a pod, no KUBECONFIG means the in-cluster service account', () => {
  assert.equal(ok([], { NODE_NAME: 'n', KUBERNETES_SERVICE_HOST: '10.0.0.1' }).kubeconfig, undefined);
  assert.equal(ok(['--kubeconfig', 'k.yaml'], { NODE_NAME: 'n' }).kubeconfig, 'k.yaml');
});

test('every bad value is one sentence naming it', () => {
  const rows: [string[], Record<string, string>, string][] = [
    [[], { KUBECONFIG: 'k' }, 'the node name is not set: pass --node-name or set NODE_NAME (downward API fieldRef spec.nodeName)'],
    [['--node-name', 'Pool_A'], ENV, '--node-name "Pool_A" is not a valid node name'],
    [['--metadata-url', '169.254.169.254'], ENV, '--metadata-url "169.254.169.254" is not a URL (e.g. http://169.254.169.254)'],
    [['--metadata-url', 'ftp://169.254.169.254'], ENV, '--metadata-url must use http or https (got "ftp://169.254.169.254")'],
    [['--metadata-url', 'http://x/?a=1'], ENV, '--metadata-url must not carry a query or fragment (got "http://x/?a=1")'],
    [['--interval', '60'], ENV, '--interval must be a positive duration like 500ms, 10s or 5m (got "60")'],
    [['--key', 'a/b/c'], ENV, '--key "a/b/c" is not a valid label key (e.g. k8s.haim.dev/floating-ip)'],
    [['--log-level', 'loud'], ENV, '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [[], { NODE_NAME: 'n' }, 'KUBECONFIG is not set and this is not a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG or --kubeconfig'],
    [['--nodename', 'x'], ENV, "Unknown option '--nodename'"],
  ];
  for (const [argv, env, message] of rows) assert.equal(error(argv, env), message, argv.join(' '));
});

test('--help returns the usage with the contract command line', () => {
  const result = parseAgentConfig({ argv: ['--help'], env: {} });
  assert.equal(result.kind, 'help');
  assert.match((result as { text: string }).text, /^Usage: node dist\/agent\/main\.js --node-name NAME --metadata-url URL/);
});
