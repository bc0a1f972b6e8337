import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caBundlePatch } from './kube.ts';

const pem = '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n';
const b64 = Buffer.from(pem).toString('base64');

test('caBundlePatch sets each stale webhook, guarded by its name, and skips current ones', () => {
  const configuration = {
    webhooks: [
      { name: 'validate.floatip.k8s.haim.dev', clientConfig: { caBundle: b64 }, admissionReviewVersions: ['v1'], sideEffects: 'None' },
      { name: 'other.floatip.k8s.haim.dev', clientConfig: {}, admissionReviewVersions: ['v1'], sideEffects: 'None' },
    ],
  };
  assert.deepEqual(caBundlePatch(configuration, pem), [
    { op: 'test', path: '/webhooks/1/name', value: 'other.floatip.k8s.haim.dev' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: b64 },
  ]);
  assert.deepEqual(caBundlePatch({ webhooks: [configuration.webhooks[0]!] }, pem), []);
  assert.deepEqual(caBundlePatch({}, pem), []);
});
