import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConfig, parseConfig } from './config.ts';
import type { ConfigInputs, ReconcilerConfig } from './config.ts';

const TOKEN = 'dop_v1_0123456789abcdef';

// Every case runs "in a pod" unless it sets KUBERNETES_SERVICE_HOST to '' itself.
function inputs(argv: string[], env: Record<string, string> = { DIGITALOCEAN_TOKEN: TOKEN }): ConfigInputs {
  const files: Record<string, string> = { '/var/run/secrets/do/token': `${TOKEN}\n`, '/empty': '  \n' };
  return {
    argv,
    env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', ...env },
    hostname: 'host-1',
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return text;
    },
  };
}

function ok(argv: string[], env?: Record<string, string>): ReconcilerConfig {
  const result = parseConfig(inputs(argv, env));
  assert.equal(result.kind, 'ok', JSON.stringify(result));
  return (result as { config: ReconcilerConfig }).config;
}

test('defaults with only a token', () => {
  const c = ok([]);
  const { adoptable, ...rest } = c;
  assert.deepEqual(adoptable.entries, []);
  assert.equal(adoptable('104.248.100.100'), false, 'nothing is adoptable by default');
  assert.deepEqual(
    { ...rest, keys: { ...c.keys }, lease: { ...c.lease }, namespaces: [...c.namespaces] },
    {
      token: TOKEN,
      apiUrl: undefined,
      kubeconfig: undefined,
      dryRun: false,
      namespaces: [],
      keys: { annotation: 'k8s.haim.dev/floating-ip', label: 'k8s.haim.dev/floating-ip', selector: 'k8s.haim.dev/floating-ip=true' },
      coolOffMs: 10_000,
      resyncIntervalMs: 60_000,
      actionExpiryMs: 300_000,
      unassignWhenUnplaced: false,
      heartbeat: { enabled: true, graceMs: undefined },
      liveness: { enabled: false, intervalMs: 250, timeoutMs: 300, indirectProbers: 3, kubeletPort: 10250, agentPort: 9406, secret: { namespace: 'floatip-agent', name: 'floatip-liveness-key' }, nodeName: undefined },
      loadBalancerClass: 'k8s.haim.dev/floating-ip',
      exposeWaitMs: 1000,
      manageFirewall: true,
      lease: { name: 'floatip-reconciler', namespace: 'floatip-system', durationMs: 4_000, renewDeadlineMs: 2_500, retryPeriodMs: 500 },
      podName: 'host-1',
      bindAddress: '127.0.0.1',
      healthPort: 8081,
      metricsPort: 8080,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
    },
  );
  assert.ok(Object.isFrozen(c));
});

const valid: Array<{ name: string; argv: string[]; env?: Record<string, string>; expect: Partial<Record<keyof ReconcilerConfig, unknown>> }> = [
  { name: 'dry run', argv: ['--dry-run'], expect: { dryRun: true } },
  { name: 'heartbeat failover off', argv: ['--no-heartbeat-failover'], expect: { heartbeat: { enabled: false, graceMs: undefined } } },
  { name: 'a fixed heartbeat grace', argv: ['--node-heartbeat-grace', '8s'], expect: { heartbeat: { enabled: true, graceMs: 8000 } } },
  { name: 'firewall opt-out', argv: ['--no-firewall'], expect: { manageFirewall: false } },
  { name: 'load-balancer class', argv: ['--load-balancer-class', 'example.com/vip'], expect: { loadBalancerClass: 'example.com/vip' } },
  { name: 'load-balancer class follows a custom key', argv: ['--key', 'example.com/fip'], expect: { loadBalancerClass: 'example.com/fip' } },
  { name: 'a key without a prefix keeps the default class', argv: ['--key', 'floating-ip'], expect: { loadBalancerClass: 'k8s.haim.dev/floating-ip' } },
  { name: 'namespaces trimmed and deduplicated', argv: ['--namespaces', ' web, db ,web,'], expect: { namespaces: ['web', 'db'] } },
  { name: 'namespaces with =', argv: ['--namespaces=default'], expect: { namespaces: ['default'] } },
  { name: 'custom key', argv: ['--key', 'example.com/public-ip'], expect: { keys: { annotation: 'example.com/public-ip', label: 'example.com/public-ip', selector: 'example.com/public-ip=true' } } },
  { name: 'key without prefix', argv: ['--key', 'public-ip'], expect: { keys: { annotation: 'public-ip', label: 'public-ip', selector: 'public-ip=true' } } },
  { name: '--expose-wait: a bound, zero allowed (never wait for a Service)', argv: ['--expose-wait', '0s'], expect: { exposeWaitMs: 0 } },
  { name: 'durations in all units', argv: ['--cool-off', '1.5s', '--resync-interval', '2m', '--action-expiry', '1h'], expect: { coolOffMs: 1500, resyncIntervalMs: 120_000, actionExpiryMs: 3_600_000 } },
  { name: 'unassign when unplaced', argv: ['--unassign-when-unplaced'], expect: { unassignWhenUnplaced: true } },
  {
    name: 'lease flags',
    argv: ['--lease-name', 'ip-leader', '--lease-namespace', 'kube-system', '--lease-duration', '4s', '--lease-renew-deadline', '3s', '--lease-retry-period', '500ms'],
    expect: { lease: { name: 'ip-leader', namespace: 'kube-system', durationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 } },
  },
  {
    name: 'lease namespace and identity from the downward API',
    argv: [],
    env: { DIGITALOCEAN_TOKEN: TOKEN, POD_NAMESPACE: 'ops', POD_NAME: 'floatip-reconciler-7d9-abcde' },
    expect: { podName: 'floatip-reconciler-7d9-abcde', lease: { name: 'floatip-reconciler', namespace: 'ops', durationMs: 4_000, renewDeadlineMs: 2_500, retryPeriodMs: 500 } },
  },
  {
    name: 'liveness flags, and the node from the downward API',
    argv: ['--liveness-interval', '500ms', '--liveness-timeout', '1s', '--liveness-indirect-probers', '5', '--kubelet-port', '10255', '--liveness-agent-port', '7000', '--liveness-secret', 'ops/key', '--no-liveness-probes'],
    env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/kube', NODE_NAME: 'pool-1' },
    expect: { liveness: { enabled: false, intervalMs: 500, timeoutMs: 1000, indirectProbers: 5, kubeletPort: 10255, agentPort: 7000, secret: { namespace: 'ops', name: 'key' }, nodeName: 'pool-1' } },
  },
  { name: 'liveness probes on (as the chart renders)', argv: ['--liveness-probes'], expect: { liveness: { enabled: true, intervalMs: 250, timeoutMs: 300, indirectProbers: 3, kubeletPort: 10250, agentPort: 9406, secret: { namespace: 'floatip-agent', name: 'floatip-liveness-key' }, nodeName: undefined } } },
  { name: 'ports, 0 = free port', argv: ['--health-port', '0', '--metrics-port', '9090', '--bind-address', '::1'], expect: { healthPort: 0, metricsPort: 9090, bindAddress: '::1' } },
  { name: 'log level', argv: ['--log-level', 'debug'], expect: { logLevel: 'debug' } },
  { name: 'kubeconfig outside a pod', argv: ['--kubeconfig', '/tmp/kc'], env: { DIGITALOCEAN_TOKEN: TOKEN, KUBERNETES_SERVICE_HOST: '' }, expect: { kubeconfig: '/tmp/kc' } },
  { name: 'kubeconfig from env', argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/tmp/kc' }, expect: { kubeconfig: '/tmp/kc' } },
  { name: 'kubeconfig flag beats env', argv: ['--kubeconfig', '/tmp/other'], env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/tmp/kc' }, expect: { kubeconfig: '/tmp/other' } },
  { name: 'token from a file, trimmed', argv: [], env: { DIGITALOCEAN_TOKEN_FILE: '/var/run/secrets/do/token' }, expect: { token: TOKEN } },
  { name: 'token trimmed', argv: [], env: { DIGITALOCEAN_TOKEN: ` ${TOKEN}\n` }, expect: { token: TOKEN } },
  { name: 'API URL kept', argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: 'http://127.0.0.1:4010' }, expect: { apiUrl: 'http://127.0.0.1:4010' } },
  { name: 'API URL with /v2/ trimmed', argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: 'https://api.digitalocean.com/v2/' }, expect: { apiUrl: 'https://api.digitalocean.com' } },
];

for (const c of valid) {
  test(`valid: ${c.name}`, () => {
    const config = ok(c.argv, c.env);
    for (const [field, value] of Object.entries(c.expect)) {
      assert.deepEqual(config[field as keyof ReconcilerConfig], value, field);
    }
  });
}

const invalid: Array<{ argv: string[]; env?: Record<string, string>; message: string }> = [
  { argv: [], env: {}, message: 'DIGITALOCEAN_TOKEN is not set: create an API token with write scope and set DIGITALOCEAN_TOKEN or DIGITALOCEAN_TOKEN_FILE' },
  { argv: [], env: { DIGITALOCEAN_TOKEN: '   ' }, message: 'DIGITALOCEAN_TOKEN is not set: create an API token with write scope and set DIGITALOCEAN_TOKEN or DIGITALOCEAN_TOKEN_FILE' },
  { argv: ['--dry-run'], env: {}, message: 'DIGITALOCEAN_TOKEN is not set: create an API token with write scope and set DIGITALOCEAN_TOKEN or DIGITALOCEAN_TOKEN_FILE' },
  { argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_TOKEN_FILE: '/var/run/secrets/do/token' }, message: 'set only one of DIGITALOCEAN_TOKEN and DIGITALOCEAN_TOKEN_FILE' },
  { argv: [], env: { DIGITALOCEAN_TOKEN_FILE: '/missing' }, message: 'DIGITALOCEAN_TOKEN_FILE /missing cannot be read (ENOENT)' },
  { argv: [], env: { DIGITALOCEAN_TOKEN_FILE: '/empty' }, message: 'DIGITALOCEAN_TOKEN_FILE /empty is empty' },
  { argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: 'api.digitalocean.com' }, message: 'DIGITALOCEAN_API_URL "api.digitalocean.com" is not a URL (e.g. https://api.digitalocean.com)' },
  { argv: [], env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: 'ftp://x' }, message: 'DIGITALOCEAN_API_URL must use http or https (got "ftp://x")' },
  {
    argv: [],
    env: { DIGITALOCEAN_TOKEN: TOKEN, KUBERNETES_SERVICE_HOST: '' },
    message: 'KUBECONFIG is not set and this is not a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG or --kubeconfig',
  },
  { argv: ['--bogus'], message: "Unknown option '--bogus'" },
  { argv: ['--key'], message: "Option '--key <value>' argument missing" },
  { argv: ['extra'], message: "Unexpected argument 'extra'. This command does not take positional arguments" },
  { argv: ['--dry-run=yes'], message: "Option '--dry-run' does not take an argument" },
  { argv: ['--cool-off', '10'], message: '--cool-off must be a positive duration like 500ms, 10s or 5m (got "10")' },
  { argv: ['--cool-off=-5s'], message: '--cool-off must be a positive duration like 500ms, 10s or 5m (got "-5s")' },
  { argv: ['--expose-wait', 'soon'], message: '--expose-wait must be a duration like 500ms, 10s or 5m (got "soon")' },
  { argv: ['--resync-interval', '0s'], message: '--resync-interval must be a positive duration like 500ms, 10s or 5m (got "0s")' },
  { argv: ['--namespaces', 'Web'], message: '--namespaces: "Web" is not a valid namespace name (lower-case letters, digits and "-", e.g. "default,web")' },
  { argv: ['--key', 'bad key'], message: '--key "bad key" is not a valid label key (e.g. k8s.haim.dev/floating-ip)' },
  { argv: ['--key', 'Example.com/ip'], message: '--key "Example.com/ip" is not a valid label key (e.g. k8s.haim.dev/floating-ip)' },
  { argv: ['--key', 'example.com/'], message: '--key "example.com/" is not a valid label key (e.g. k8s.haim.dev/floating-ip)' },
  { argv: ['--load-balancer-class', 'floating-ip'], message: '--load-balancer-class "floating-ip" is not a domain-prefixed name (e.g. k8s.haim.dev/floating-ip)' },
  { argv: ['--load-balancer-class', 'Example.com/x'], message: '--load-balancer-class "Example.com/x" is not a domain-prefixed name (e.g. k8s.haim.dev/floating-ip)' },
  { argv: ['--no-firewall=false'], message: "Option '--no-firewall' does not take an argument" },
  { argv: ['--health-port', '70000'], message: '--health-port must be a port number from 0 to 65535 (got "70000")' },
  { argv: ['--metrics-port', 'http'], message: '--metrics-port must be a port number from 0 to 65535 (got "http")' },
  { argv: ['--log-level', 'verbose'], message: '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")' },
  { argv: ['--lease-duration', '2s'], message: '--lease-duration must be greater than --lease-renew-deadline' },
  { argv: ['--liveness-timeout', '6s'], message: '--liveness-timeout must be at most 5s (got "6s")' },
  { argv: ['--liveness-interval', '10ms'], message: '--liveness-interval must be at least 50ms (got "10ms")' },
  { argv: ['--liveness-indirect-probers', '0'], message: '--liveness-indirect-probers must be a number from 1 to 10 (got "0")' },
  { argv: ['--liveness-secret', 'just-a-name'], message: '--liveness-secret must be NAMESPACE/NAME (got "just-a-name")' },
  { argv: ['--lease-renew-deadline', '1100ms', '--lease-retry-period', '1s'], message: '--lease-renew-deadline must be greater than 1.2 × --lease-retry-period' },
  { argv: ['--lease-name', 'Leader!'], message: '--lease-name "Leader!" is not a valid object name' },
  { argv: ['--lease-namespace', 'a.b'], message: '--lease-namespace "a.b" is not a valid namespace name' },
];

for (const c of invalid) {
  test(`invalid: ${c.message}`, () => {
    assert.deepEqual(parseConfig(inputs(c.argv, c.env ?? { DIGITALOCEAN_TOKEN: TOKEN })), { kind: 'error', message: c.message });
  });
}

test('--help wins over missing token and lists every flag', () => {
  const result = parseConfig(inputs(['--help'], {}));
  assert.equal(result.kind, 'help');
  const text = (result as { text: string }).text;
  for (const flag of ['--dry-run', '--namespaces', '--key', '--cool-off', '--resync-interval', '--unassign-when-unplaced', '--lease-name', '--lease-namespace', '--lease-duration', '--health-port', '--metrics-port', '--log-level', 'DIGITALOCEAN_TOKEN_FILE', 'DIGITALOCEAN_API_URL', 'KUBECONFIG']) {
    assert.ok(text.includes(flag), flag);
  }
});

test('describeConfig never contains the token', () => {
  const described = describeConfig(ok(['--namespaces', 'web']));
  assert.equal(JSON.stringify(described).includes(TOKEN), false);
  assert.equal(described['tokenSet'], true);
  assert.equal(described['key'], 'k8s.haim.dev/floating-ip');
  assert.deepEqual(described['namespaces'], ['web']);
});

test('--adoptable-ips: IPs and CIDRs of both families; anything else is a clear error', () => {
  const c = ok(['--adoptable-ips', '203.0.113.7, 198.51.100.0/28,2604:a880:800::/48']);
  assert.deepEqual(c.adoptable.entries, ['203.0.113.7', '198.51.100.0/28', '2604:a880:800::/48']);
  const rows: [string, boolean][] = [
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['198.51.100.15', true],
    ['198.51.100.16', false],
    ['2604:a880:800:14::1000', true],
    ['2604:a880:801::1', false],
  ];
  for (const [ip, expected] of rows) assert.equal(c.adoptable(ip), expected, ip);
  for (const [bad, message] of [
    ['10.0.0.1/33', '--adoptable-ips: "10.0.0.1/33" has an invalid prefix length (0-32)'],
    ['2604::/129', '--adoptable-ips: "2604::/129" has an invalid prefix length (0-128)'],
    ['not-an-ip', '--adoptable-ips: "not-an-ip" is not an IP address or CIDR (e.g. 203.0.113.7 or 198.51.100.0/28)'],
    ['1.2.3.4/8/9', '--adoptable-ips: "1.2.3.4/8/9" is not an IP address or CIDR (e.g. 203.0.113.7 or 198.51.100.0/28)'],
  ] as const) {
    const result = parseConfig({ argv: ['--adoptable-ips', bad], env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/kube' }, readFile: () => '', hostname: 'h' });
    assert.deepEqual(result, { kind: 'error', message }, bad);
  }
});

test('--ip-policy-file: read through readFile; a missing or bad file is one clear error; absent = no policy', () => {
  assert.equal(ok([]).ipPolicy, undefined);
  const run = (text: string | undefined) =>
    parseConfig({
      argv: ['--ip-policy-file', '/etc/floatip/policy.yaml'],
      env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/kube' },
      readFile: () => {
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
      hostname: 'h',
    });
  const result = run('namespaces:\n  shop: ["104.248.100.100"]\n');
  assert.equal(result.kind, 'ok');
  const config = (result as { config: ReconcilerConfig }).config;
  assert.equal(config.ipPolicy?.allows('shop', '104.248.100.100'), true);
  assert.equal(config.ipPolicy?.allows('web', '104.248.100.100'), false);
  assert.equal(describeConfig(config)['ipPolicyFile'], '/etc/floatip/policy.yaml');
  assert.deepEqual(run(undefined), { kind: 'error', message: '--ip-policy-file /etc/floatip/policy.yaml cannot be read (ENOENT)' });
  assert.deepEqual(run('namespaces:\n  shop: ["104.248.100"]\n'), {
    kind: 'error',
    message: '--ip-policy-file /etc/floatip/policy.yaml: namespace "shop": "104.248.100" is not an IP address or CIDR (e.g. 104.248.100.100 or 198.51.100.0/28)',
  });
});

test('the lease leaves a fencing margin between the renew deadline and the expiry', () => {
  assert.equal(ok(['--lease-duration', '4s', '--lease-renew-deadline', '3s', '--lease-retry-period', '500ms']).lease.renewDeadlineMs, 3000);
  const result = parseConfig({ argv: ['--lease-duration', '3200ms', '--lease-renew-deadline', '3s', '--lease-retry-period', '500ms'], env: { DIGITALOCEAN_TOKEN: TOKEN, KUBECONFIG: '/kube' }, readFile: () => '', hostname: 'h' });
  assert.deepEqual(result, { kind: 'error', message: '--lease-duration must exceed --lease-renew-deadline by at least 500 ms (the margin for a request in flight when the leader steps down)' });
});

test('--firewall-allowed-ports / --firewall-denied-ports and --anchor-range (issue 15)', () => {
  const defaults = ok([]);
  assert.equal(defaults.firewallPorts, undefined, 'absent: the default port policy');
  assert.equal(defaults.anchorRange, undefined, 'absent: 10.20.0.0/16');
  assert.equal(describeConfig(defaults)['anchorRange'], '10.20.0.0/16');
  const c = ok(['--firewall-allowed-ports', 'tcp/22', '--firewall-denied-ports', 'udp/53', '--anchor-range', '10.30.0.0/16']);
  assert.equal(c.firewallPorts?.refuses('tcp', 22), undefined);
  assert.match(c.firewallPorts?.refuses('udp', 53) ?? '', /--firewall-denied-ports/);
  assert.match(c.firewallPorts?.refuses('tcp', 10250) ?? '', /kubelet/);
  assert.equal(c.anchorRange?.contains('10.30.4.5'), true);
  assert.deepEqual(describeConfig(c)['firewallPortLists'], { allowed: 'tcp/22', denied: 'udp/53' });
  const bad = (argv: string[]) => parseConfig(inputs(argv));
  assert.deepEqual(bad(['--firewall-allowed-ports', '22,abc']), { kind: 'error', message: '--firewall-allowed-ports: "abc" is not a port or range (1-65535, e.g. "tcp/22", "8000-8100" or "udp/30000-30010")' });
  assert.deepEqual(bad(['--anchor-range', '8.8.8.8']), { kind: 'error', message: '--anchor-range "8.8.8.8" is not an IPv4 CIDR with a prefix of /8 to /32 (default 10.20.0.0/16)' });
});
