import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inClusterConnection, kubeconfigConnection, tokenFile } from './connection.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function files(initial: Record<string, string>) {
  const content = new Map(Object.entries(initial));
  const reads: string[] = [];
  return {
    content,
    reads,
    read: (path: string) => {
      reads.push(path);
      const text = content.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}

test('in a pod: server from KUBERNETES_SERVICE_HOST/PORT, CA and token from the service-account files', () => {
  const f = files({ '/sa/ca.crt': 'CA PEM', '/sa/token': 'token-1\n' });
  const c = inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.245.0.1', KUBERNETES_SERVICE_PORT: '443' }, { read: f.read, dir: '/sa', now: () => 0 });
  assert.deepEqual({ server: c.server, ca: c.caPem, token: c.token(), cert: c.clientCert, insecure: c.insecureSkipTlsVerify }, {
    server: 'https://10.245.0.1:443',
    ca: 'CA PEM',
    token: 'token-1',
    cert: undefined,
    insecure: false,
  });
  const v6 = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, { read: f.read, dir: '/sa' });
  assert.equal(v6.server, 'https://[fd00::1]:443');
  assert.throws(() => inClusterConnection({}, { read: f.read, dir: '/sa' }), /KUBERNETES_SERVICE_HOST is not set/);
});

test('the token file is re-read once a minute has passed (the kubelet rotates it), and a failed re-read keeps the last token', () => {
  const f = files({ '/t': 'old' });
  let now = 1_000;
  const token = tokenFile('/t', { read: f.read, now: () => now });
  f.content.set('/t', 'new');
  now += 59_999;
  assert.equal(token(), 'old');
  assert.equal(f.reads.length, 1);
  now += 1;
  assert.equal(token(), 'new');
  assert.equal(f.reads.length, 2);
  f.content.delete('/t');
  now += 60_000;
  assert.equal(token(), 'new');
  f.content.set('/t', 'newer');
  assert.equal(token(), 'new', 'the failed read counts as a read: the next one is a minute later');
  now += 60_000;
  assert.equal(token(), 'newer');
});

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443/', 'certificate-authority-data': b64('CA') }) => ({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [
    { name: 'other', cluster: { server: 'https://other:6443' } },
    { name: 'c', cluster },
  ],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'ctx',
});

test('kubeconfig: the current context picks the cluster and the user; data fields and files both work', () => {
  const f = files({ '/home/me/.kube/client.crt': 'CERT', '/home/me/.kube/client.key': 'KEY', '/home/me/.kube/ca.crt': 'CA FILE', '/home/me/tok': 'file-token' });
  const token = kubeconfigConnection(kubeconfig({ token: 'abc' }), '/home/me/.kube', f.read);
  assert.deepEqual({ server: token.server, ca: token.caPem, token: token.token(), cert: token.clientCert }, { server: 'https://127.0.0.1:6443', ca: 'CA', token: 'abc', cert: undefined });

  const certData = kubeconfigConnection(kubeconfig({ 'client-certificate-data': b64('CERT D'), 'client-key-data': b64('KEY D') }), '/x', f.read);
  assert.deepEqual({ cert: certData.clientCert, token: certData.token() }, { cert: { certPem: 'CERT D', keyPem: 'KEY D' }, token: undefined });

  const certFiles = kubeconfigConnection(
    kubeconfig({ 'client-certificate': 'client.crt', 'client-key': '/home/me/.kube/client.key', tokenFile: '../tok' }, { server: 'https://h:1', 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true }),
    '/home/me/.kube',
    f.read,
  );
  assert.deepEqual(
    { cert: certFiles.clientCert, ca: certFiles.caPem, insecure: certFiles.insecureSkipTlsVerify, token: certFiles.token() },
    { cert: { certPem: 'CERT', keyPem: 'KEY' }, ca: 'CA FILE', insecure: true, token: 'file-token' },
  );
});

test('kubeconfig: what this client cannot use is refused with a sentence', () => {
  const cases: [string, unknown, RegExp][] = [
    ['no current context', { ...kubeconfig({}), 'current-context': '' }, /no current-context/],
    ['unknown context', { ...kubeconfig({}), 'current-context': 'nope' }, /no context "nope"/],
    ['cluster without server', kubeconfig({}, { 'certificate-authority-data': b64('CA') }), /cluster "c" has no server/],
    ['exec plugin', kubeconfig({ exec: { command: 'doctl' } }), /exec or auth-provider plugin/],
    ['cert without key', kubeconfig({ 'client-certificate-data': b64('C') }), /without its key/],
    ['not a kubeconfig', null, /no current-context/],
  ];
  for (const [name, doc, message] of cases) assert.throws(() => kubeconfigConnection(doc, '/'), message, name);
});
