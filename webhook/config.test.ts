import { test } from 'node:test';
import assert from 'node:assert/strict';
import { USAGE, parseConfig } from './config.ts';

const files = ['--tls-cert', 'c.pem', '--tls-key', 'k.pem'];

test('the CLI contract: --port --tls-cert --tls-key', () => {
  const r = parseConfig(['--port', '8443', ...files], {});
  assert.deepEqual(r, {
    kind: 'ok',
    config: {
      bindAddress: '127.0.0.1',
      port: 8443,
      tls: { mode: 'files', certPath: 'c.pem', keyPath: 'k.pem', pollMs: 10_000 },
      keys: { annotation: 'k8s.haim.dev/floating-ip', label: 'k8s.haim.dev/floating-ip', selector: 'k8s.haim.dev/floating-ip=true' },
      kubeconfig: undefined,
      shutdownDelayMs: 2000,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
    },
  });
});

test('environment equivalents; a flag wins over its variable', () => {
  const env = {
    FLOATIP_WEBHOOK_PORT: '9443',
    FLOATIP_WEBHOOK_TLS_CERT: '/tls/tls.crt',
    FLOATIP_WEBHOOK_TLS_KEY: '/tls/tls.key',
    FLOATIP_WEBHOOK_BIND_ADDRESS: '0.0.0.0',
    FLOATIP_KEY: 'ips.example.org/reserved',
    FLOATIP_LOG_LEVEL: 'debug',
  };
  const r = parseConfig([], env);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.equal(r.config.port, 9443);
  assert.equal(r.config.bindAddress, '0.0.0.0');
  assert.deepEqual(r.config.tls, { mode: 'files', certPath: '/tls/tls.crt', keyPath: '/tls/tls.key', pollMs: 10_000 });
  assert.equal(r.config.keys.annotation, 'ips.example.org/reserved');
  assert.equal(r.config.logLevel, 'debug');
  const flagWins = parseConfig(['--port', '1'], env);
  assert.equal(flagWins.kind === 'ok' && flagWins.config.port, 1);
});

test('self-signed mode with defaults and POD_NAMESPACE', () => {
  const r = parseConfig(['--self-signed-tls', '--tls-check-interval', '1m'], { POD_NAMESPACE: 'ops' });
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.deepEqual(r.config.tls, {
    mode: 'self-signed',
    namespace: 'ops',
    service: 'floatip-webhook',
    secret: 'floatip-webhook-tls',
    mutatingConfiguration: 'floatip',
    validatingConfiguration: 'floatip',
    clusterDomain: 'cluster.local',
    checkIntervalMs: 60_000,
  });
  const viaEnv = parseConfig([], { FLOATIP_WEBHOOK_SELF_SIGNED_TLS: 'true' });
  assert.equal(viaEnv.kind === 'ok' && viaEnv.config.tls.mode, 'self-signed');
});

test('--help', () => {
  assert.deepEqual(parseConfig(['--help'], {}), { kind: 'help', text: USAGE });
  assert.match(USAGE, /--tls-cert FILE/);
});

test('clear errors', () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [[], {}, 'no TLS configured: pass --tls-cert FILE --tls-key FILE, or --self-signed-tls (see --help)'],
    [['--tls-cert', 'c'], {}, '--tls-cert needs --tls-key as well'],
    [['--tls-key', 'k'], {}, '--tls-key needs --tls-cert as well'],
    [[...files, '--self-signed-tls'], {}, 'use either --tls-cert/--tls-key or --self-signed-tls, not both'],
    [[...files, '--port', '70000'], {}, '--port must be a port number from 0 to 65535 (got "70000")'],
    [[...files, '--port', 'x'], {}, '--port must be a port number from 0 to 65535 (got "x")'],
    [[...files, '--key', 'Bad Key'], {}, '--key "Bad Key" is not a valid label key (e.g. k8s.haim.dev/floating-ip)'],
    [[...files, '--log-level', 'loud'], {}, '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [[...files, '--tls-poll-interval', '10'], {}, '--tls-poll-interval must be a positive duration like 500ms, 10s or 5m (got "10")'],
    [['--self-signed-tls', '--namespace', 'Not_OK'], {}, '--namespace "Not_OK" is not a valid Kubernetes name (lower-case letters, digits and "-")'],
    [[], { FLOATIP_WEBHOOK_SELF_SIGNED_TLS: 'yes' }, 'FLOATIP_WEBHOOK_SELF_SIGNED_TLS must be true or false (got "yes")'],
    [[...files, 'extra'], {}, 'unexpected argument "extra" (see --help)'],
    [['--nope'], {}, "Unknown option '--nope'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--nope\""],
  ];
  for (const [argv, env, message] of cases) assert.deepEqual(parseConfig(argv, env), { kind: 'error', message }, argv.join(' '));
});

test('--ip-policy-file: read through the reader given; unreadable or bad is one clear error; absent = no policy', () => {
  const none = parseConfig(files, {});
  assert.equal(none.kind === 'ok' ? none.config.ipPolicy : 'not ok', undefined);
  const reader = (text: string | undefined) => () => {
    if (text === undefined) throw Object.assign(new Error('nope'), { code: 'EACCES' });
    return text;
  };
  const argv = [...files, '--ip-policy-file', 'policy.yaml'];
  const r = parseConfig(argv, {}, reader('namespaces:\n  shop: ["198.51.100.0/28"]\n'));
  assert.equal(r.kind, 'ok');
  assert.equal(r.kind === 'ok' && r.config.ipPolicy?.allows('shop', '198.51.100.3'), true);
  assert.equal(r.kind === 'ok' && r.config.ipPolicy?.allows('web', '198.51.100.3'), false);
  assert.deepEqual(parseConfig(argv, {}, reader(undefined)), { kind: 'error', message: '--ip-policy-file policy.yaml cannot be read (EACCES)' });
  assert.deepEqual(parseConfig(argv, {}, reader('namespaces:\n  Shop: []\n')), {
    kind: 'error',
    message: '--ip-policy-file policy.yaml: "Shop" is not a namespace name (lower-case letters, digits and "-") or "*"',
  });
});
