// The generated request factories are called with positional parameters read from their own
// source; the object-parameter API makeApiClient() returns passes `param.<name>` in an order
// of its own. Both come from the same generator: here they are compared, call by call, for the
// installed client-node, so an upgrade that changed either fails here and not in a cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CoordinationV1ApiRequestFactory } from '@kubernetes/client-node/dist/gen/apis/CoordinationV1Api.js';
import { CoreV1ApiRequestFactory } from '@kubernetes/client-node/dist/gen/apis/CoreV1Api.js';
import type { KubeClient, RawRequest, RawResponse } from '../../shared/kube/client.ts';
import { ApiException, CORE_CALLS, LEASE_CALLS, PatchStrategy, kubeApis, parameterNames, setHeaderOptions } from './api.ts';

const objectParamSource = readFileSync(createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/gen/types/ObjectParamAPI.js'), 'utf8');

/** the order in which ObjectXApi.<call>(param, options) hands param's fields on */
function objectParamOrder(apiClass: string, call: string): string[] {
  const classBody = objectParamSource.slice(objectParamSource.indexOf(`export class Object${apiClass} {`));
  const m = new RegExp(`\\n    ${call}\\(param(?: = \\{\\})?, options\\) \\{\\n\\s+return this\\.api\\.${call}\\(([^)]*)\\)`).exec(classBody);
  assert.ok(m, `Object${apiClass}.${call} not found in client-node's ObjectParamAPI.js`);
  return (m[1] ?? '').split(',').map((a) => a.trim()).filter((a) => a !== 'options').map((a) => a.replace(/^param\./, ''));
}

const factories = [
  { apiClass: 'CoreV1Api', calls: CORE_CALLS, proto: CoreV1ApiRequestFactory.prototype as unknown as Record<string, (...args: never[]) => unknown> },
  { apiClass: 'CoordinationV1Api', calls: LEASE_CALLS, proto: CoordinationV1ApiRequestFactory.prototype as unknown as Record<string, (...args: never[]) => unknown> },
];

for (const { apiClass, calls, proto } of factories) {
  for (const call of calls) {
    test(`${apiClass}.${call}: the factory's parameters are the object API's, in its order`, () => {
      const method = proto[call];
      assert.ok(method, `${apiClass}RequestFactory has no ${call}`);
      assert.deepEqual(parameterNames(method), objectParamOrder(apiClass, call));
    });
  }
}

test('parameterNames reads a method source and leaves out the configuration', () => {
  const cases: [string, string[]][] = [
    ['async readNamespacedLease(name, namespace, pretty, _options) { return 1; }', ['name', 'namespace', 'pretty']],
    ['async listNode(pretty, allowWatchBookmarks, _continue, _options) {}', ['pretty', 'allowWatchBookmarks', '_continue']],
    ['async noParams(_options) {}', []],
    ['listPlain(a, b) {}', ['a', 'b']],
  ];
  for (const [source, expected] of cases) {
    const fake = { toString: () => source, name: 'fake' } as unknown as (...args: never[]) => unknown;
    assert.deepEqual(parameterNames(fake), expected, source);
  }
  assert.throws(() => parameterNames({ toString: () => '(a) => a', name: 'arrow' } as unknown as (...args: never[]) => unknown), /cannot read the parameters/);
});

test('a call goes out as the generated factory builds it and comes back as its model, or as an ApiException', async () => {
  const sent: RawRequest[] = [];
  const answers: RawResponse[] = [
    { status: 200, headers: { 'content-type': 'application/json' }, text: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'k', namespace: 'ns', creationTimestamp: '2026-12-06T10:00:00Z' } }) },
    { status: 404, headers: { 'content-type': 'application/json' }, text: JSON.stringify({ kind: 'Status', reason: 'NotFound', code: 404 }) },
    { status: 200, headers: { 'content-type': 'application/json' }, text: JSON.stringify({ metadata: { name: 'web', namespace: 'shop' } }) },
  ];
  const kube: KubeClient = {
    request: () => Promise.reject(new Error('not used')),
    exchange: (req) => {
      sent.push(req);
      const answer = answers.shift();
      return answer ? Promise.resolve(answer) : Promise.reject(new Error('no answer left'));
    },
    stream: () => Promise.reject(new Error('not used')),
    close: () => undefined,
  };
  const { core } = kubeApis(kube);
  const secret = await core.readNamespacedSecret({ name: 'k', namespace: 'ns' });
  assert.equal(secret.metadata?.name, 'k');
  assert.ok(secret.metadata?.creationTimestamp instanceof Date, 'deserialized into the model (dates are Dates)');
  assert.equal(sent[0]?.method, 'GET');
  assert.equal(sent[0]?.path, '/api/v1/namespaces/ns/secrets/k');
  await assert.rejects(core.readNamespacedSecret({ name: 'gone', namespace: 'ns' }), (err: unknown) => err instanceof ApiException && err.code === 404);
  await core.patchNamespacedService({ name: 'web', namespace: 'shop', body: { metadata: { name: 'web' } }, fieldManager: 'floatip', force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
  assert.equal(sent[2]?.method, 'PATCH');
  assert.equal(sent[2]?.path, '/api/v1/namespaces/shop/services/web?fieldManager=floatip&force=true');
  assert.equal(sent[2]?.headers?.['Content-Type'], PatchStrategy.ServerSideApply);
  assert.deepEqual(JSON.parse(String(sent[2]?.body)), { metadata: { name: 'web' } });
});
