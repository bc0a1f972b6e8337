// shared/kube against the real kube-apiserver: a client certificate and a bearer token from a
// kubeconfig, the answers the agent and the webhook act on (404, 409, 403 with the Status
// reason), the three content types, and a rotated token file picked up on the next re-read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '../../test/cluster/harness.ts';
import type { ControlPlane } from '../../test/cluster/harness.ts';
import { CONTENT_TYPE, KubeApiError, createKubeClient } from './client.ts';
import type { KubeClient } from './client.ts';
import { kubeconfigConnection, loadConnection, tokenFile } from './connection.ts';

interface ConfigMap {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

async function failure(call: Promise<unknown>): Promise<KubeApiError> {
  const err = await call.then(
    () => assert.fail('the API server accepted the call'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KubeApiError, String(err));
  return err;
}

describe('shared/kube on the real API server', () => {
  let cp: ControlPlane;
  let dir: string;
  let admin: KubeClient;
  const path = '/api/v1/namespaces/default/configmaps';

  before(async () => {
    cp = await startControlPlane({ scheduler: false, controllerManager: false, kwok: false });
    dir = await mkdtemp(join(tmpdir(), 'floatip-kube-'));
    // the admin kubeconfig as written for the Go components: YAML, a client certificate
    admin = createKubeClient(await loadConnection(cp.kubeconfigPath, {}));
  });
  after(async () => {
    admin?.close();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('create, read, merge patch, JSON patch; 404 and 409 carry the status code and reason', async () => {
    const created = await admin.request<ConfigMap>({ method: 'POST', path, body: { metadata: { name: 'probe' }, data: { a: '1' } } });
    assert.equal(created.metadata.name, 'probe');
    const conflict = await failure(admin.request({ method: 'POST', path, body: { metadata: { name: 'probe' } } }));
    assert.deepEqual([conflict.code, conflict.reason, conflict.apiMessage], [409, 'AlreadyExists', 'configmaps "probe" already exists']);

    await admin.request({ method: 'PATCH', path: `${path}/probe?fieldManager=floatip-test`, body: { data: { b: '2' } }, contentType: CONTENT_TYPE.mergePatch });
    await admin.request({ method: 'PATCH', path: `${path}/probe`, body: [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }], contentType: CONTENT_TYPE.jsonPatch });
    const read = await admin.request<ConfigMap>({ method: 'GET', path: `${path}/probe` });
    assert.deepEqual([read.data, read.metadata.labels], [{ a: '1', b: '2' }, { x: 'y' }]);

    const stale = await failure(admin.request({ method: 'PUT', path: `${path}/probe`, body: { metadata: { name: 'probe', resourceVersion: created.metadata.resourceVersion }, data: {} } }));
    assert.deepEqual([stale.code, stale.reason], [409, 'Conflict']);
    const missing = await failure(admin.request({ method: 'GET', path: `${path}/nope` }));
    assert.deepEqual([missing.code, missing.reason, missing.message], [404, 'NotFound', 'GET /api/v1/namespaces/default/configmaps/nope: 404 configmaps "nope" not found']);
  });

  test('a service-account token: 403 names what is forbidden; a token file is re-read once its minute has passed', async () => {
    // (no controller-manager here to create the namespace's default account)
    await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/serviceaccounts', body: { metadata: { name: 'probe' } } });
    const kubeconfig = JSON.parse((await cp.kubeConfigForServiceAccount('default', 'probe')).exportConfig()) as { users: { user: { token?: string } }[] };
    const token = kubeconfig.users[0]?.user.token ?? '';
    assert.ok(token);
    const base = kubeconfigConnection(kubeconfig, dir);
    const sa = createKubeClient(base);
    try {
      const denied = await failure(sa.request({ method: 'GET', path: '/api/v1/nodes' }));
      assert.equal(denied.code, 403);
      assert.equal(denied.reason, 'Forbidden');
      assert.match(denied.apiMessage, /^nodes is forbidden: User "system:serviceaccount:default:probe" cannot list resource "nodes"/);
    } finally {
      sa.close();
    }

    // As the kubelet rotates a projected token: the file changes under the running client.
    const file = join(dir, 'token');
    await writeFile(file, 'not-a-token');
    let now = 0;
    const rotating = createKubeClient({ ...base, token: tokenFile(file, { now: () => now }) });
    try {
      assert.equal((await failure(rotating.request({ method: 'GET', path: '/api' }))).code, 401);
      await writeFile(file, `${token}\n`);
      assert.equal((await failure(rotating.request({ method: 'GET', path: '/api' }))).code, 401, 'within the minute the old token is still used');
      now += 60_000;
      const api = await rotating.request<{ kind: string }>({ method: 'GET', path: '/api' });
      assert.equal(api.kind, 'APIVersions');
    } finally {
      rotating.close();
    }
  });

  test('watches have connections of their own: with more streams open than pool sockets, calls still go through, and a stream carries the events', async () => {
    const streams = Array.from({ length: 6 }, () => new AbortController());
    try {
      const opened = await Promise.all(streams.map((c) => admin.stream(`${path}?watch=true&timeoutSeconds=60`, c.signal)));
      assert.deepEqual(opened.map((r) => r.statusCode), streams.map(() => 200));
      const first = opened[0];
      assert.ok(first);
      first.setEncoding('utf8');
      let seen = '';
      const event = new Promise<string>((resolve) => first.on('data', (chunk: string) => ((seen += chunk), seen.includes('"streamed"') && resolve(seen))));
      // the pool (4 sockets) is free for calls while six watches run
      await admin.request({ method: 'POST', path, body: { metadata: { name: 'streamed' } } });
      const line = JSON.parse((await event).split('\n').find((l) => l.includes('"streamed"')) ?? '{}') as { type?: string; object?: ConfigMap };
      assert.equal(line.type, 'ADDED');
      assert.equal(line.object?.metadata.name, 'streamed');
    } finally {
      for (const c of streams) c.abort();
    }
  });
});
