import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import { decodeAdmissionReview } from './review.ts';
import type { AdmissionRequest, Operation } from './review.ts';
import { describeObject, validate } from './validate.ts';
import { ALL_KINDS, loadFixture, objectOf, reviewOf } from './fixtures/reviews.ts';
import type { PodMeta } from './fixtures/reviews.ts';

const keys = floatingIpKeys();
const KEY = keys.annotation;
const NOT_IP = 'is not an IPv4 or IPv6 address (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)';

function request(review: Record<string, unknown>): AdmissionRequest {
  const decoded = decodeAdmissionReview(review);
  assert.ok(decoded.ok);
  return decoded.request;
}

function check(kind: string, operation: Operation, pod: PodMeta, extra: { old?: PodMeta; own?: PodMeta } = {}) {
  const object = objectOf(kind, 'web', 'prod', pod, extra.own);
  const oldObject = extra.old ? objectOf(kind, 'web', 'prod', extra.old) : undefined;
  return validate(request(reviewOf(kind, operation, object, oldObject ? { oldObject } : {})), keys);
}

test('the recorded bad Deployment is denied with the message users see', () => {
  assert.deepEqual(validate(request(loadFixture('deployment-create-bad')), keys), {
    allowed: false,
    message: `Deployment default/traefik: annotation k8s.haim.dev/floating-ip: "104.248.100" ${NOT_IP}`,
    warnings: [],
  });
});

test('the recorded CronJob update that duplicates an IP is denied', () => {
  assert.deepEqual(validate(request(loadFixture('cronjob-update')), keys), {
    allowed: false,
    message:
      'CronJob ops/nightly-sync: annotation k8s.haim.dev/floating-ip: "104.248.100.102" is listed twice; list each reserved IP once (expected e.g. 104.248.100.100, 2604:a880:800:14::1)',
    warnings: [],
  });
});

test('a pod with a generated name is named by its prefix', () => {
  const req = request(loadFixture('pod-create-from-replicaset'));
  assert.equal(describeObject(req), 'Pod default/traefik-6d8f7b9c4-');
  assert.deepEqual(validate(req, keys), { allowed: true, warnings: [] });
});

for (const kind of ALL_KINDS) {
  for (const operation of ['CREATE', 'UPDATE'] as const) {
    test(`${kind} ${operation}: good value allowed, bad value denied, no annotation allowed`, () => {
      assert.deepEqual(check(kind, operation, { annotations: { [KEY]: '104.248.100.100, 2604:a880:800:14::1000' } }), { allowed: true, warnings: [] });
      assert.deepEqual(check(kind, operation, { annotations: { [KEY]: '104.248.100' } }), {
        allowed: false,
        message: `${kind} prod/web: annotation ${KEY}: "104.248.100" ${NOT_IP}`,
        warnings: [],
      });
      assert.deepEqual(check(kind, operation, { annotations: { other: 'x' } }), { allowed: true, warnings: [] });
    });
  }
}

test('DELETE and CONNECT are always allowed; unknown kinds too', () => {
  const bad = objectOf('Pod', 'web', 'prod', { annotations: { [KEY]: 'nope' } });
  assert.deepEqual(validate(request(reviewOf('Pod', 'DELETE', bad)), keys), { allowed: true, warnings: [] });
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', annotations: { [KEY]: 'nope' } } };
  assert.deepEqual(validate(request(reviewOf('Service', 'CREATE', svc)), keys), { allowed: true, warnings: [] });
});

test('an update that keeps an old bad value is allowed with a warning, so legacy objects stay editable', () => {
  assert.deepEqual(check('Deployment', 'UPDATE', { annotations: { [KEY]: '10.0.0.1' } }, { old: { annotations: { [KEY]: '10.0.0.1' } } }), {
    allowed: true,
    warnings: [
      'Deployment prod/web: annotation k8s.haim.dev/floating-ip: "10.0.0.1" is a private address (10.0.0.0/8, RFC 1918) and can never be a DigitalOcean reserved IP (expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1) (allowed because this update does not change it)',
    ],
  });
  // ...but changing a good value to a bad one is denied
  const changed = check('Deployment', 'UPDATE', { annotations: { [KEY]: '10.0.0.1' } }, { old: { annotations: { [KEY]: '104.248.100.100' } } });
  assert.equal(changed.allowed, false);
});

test('warnings for suspicious but legal input', () => {
  assert.deepEqual(check('Pod', 'CREATE', { labels: { [KEY]: 'true' } }), {
    allowed: true,
    warnings: ['Pod prod/web: label k8s.haim.dev/floating-ip is set without the k8s.haim.dev/floating-ip annotation, so floatip routes no IP to this pod'],
  });
  assert.deepEqual(check('StatefulSet', 'CREATE', { labels: { [KEY]: 'true' } }), {
    allowed: true,
    warnings: ['StatefulSet prod/web: label k8s.haim.dev/floating-ip is set without the k8s.haim.dev/floating-ip annotation, so floatip routes no IP to these pods'],
  });
  assert.deepEqual(check('Deployment', 'CREATE', {}, { own: { annotations: { [KEY]: '104.248.100.100' } } }), {
    allowed: true,
    warnings: ['Deployment prod/web: annotation k8s.haim.dev/floating-ip is on the Deployment itself and has no effect; put it in spec.template.metadata.annotations'],
  });
  assert.deepEqual(check('CronJob', 'CREATE', {}, { own: { annotations: { [KEY]: '104.248.100.100' } } }).warnings, [
    'CronJob prod/web: annotation k8s.haim.dev/floating-ip is on the CronJob itself and has no effect; put it in spec.jobTemplate.spec.template.metadata.annotations',
  ]);
  assert.deepEqual(check('Job', 'CREATE', { annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: 'yes' } }).warnings, [
    'Job prod/web: label k8s.haim.dev/floating-ip="yes" will be set to "true" on each pod',
  ]);
});

test('a custom key is used in the message', () => {
  const custom = floatingIpKeys('ips.example.org/reserved');
  const obj = objectOf('DaemonSet', 'edge', 'kube-system', { annotations: { 'ips.example.org/reserved': '' } });
  assert.deepEqual(validate(request(reviewOf('DaemonSet', 'CREATE', obj)), custom), {
    allowed: false,
    message: 'DaemonSet kube-system/edge: annotation ips.example.org/reserved: the value is empty (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)',
    warnings: [],
  });
});

test('kinds named like Object.prototype members are unknown kinds, not a crash', () => {
  for (const kind of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const obj = { metadata: { name: 'x', annotations: { [KEY]: 'nope' } } };
    assert.deepEqual(validate(request(reviewOf(kind, 'CREATE', obj)), keys), { allowed: true, warnings: [] }, kind);
  }
});

test('wrong types anywhere in the object give a normal answer with short echoes', () => {
  const base = (meta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    request({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'w', kind: { kind: 'Pod' }, operation: 'CREATE', object: { metadata: meta }, ...extra } });
  let deep: unknown = 'leaf';
  for (let i = 0; i < 90; i++) deep = [deep];
  // a name that is not a string is no name; a huge one is cut
  assert.deepEqual(validate(base({ name: { toString: 1 }, namespace: 'prod', annotations: { [KEY]: 'x' } }), keys), {
    allowed: false,
    message: `Pod prod/: annotation ${KEY}: "x" ${NOT_IP}`,
    warnings: [],
  });
  assert.deepEqual(validate(base({ name: 'n'.repeat(3_000_000), namespace: 'prod', annotations: { [KEY]: 'x' } }), keys), {
    allowed: false,
    message: `Pod prod/${'n'.repeat(61)}...: annotation ${KEY}: "x" ${NOT_IP}`,
    warnings: [],
  });
  assert.deepEqual(validate(base({ name: 'p', namespace: 'prod', annotations: { [KEY]: deep } }), keys), {
    allowed: false,
    message: `Pod prod/p: annotation ${KEY}: the value must be a string, got an array`,
    warnings: [],
  });
  assert.deepEqual(validate(base({ name: 'p', namespace: 'prod', annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: deep } }), keys), {
    allowed: true,
    warnings: [`Pod prod/p: label ${KEY}=an array is not "true"; floatip's reconciler selects ${KEY}=true`],
  });
  assert.deepEqual(validate(base({ name: 'p', namespace: 'prod', annotations: [KEY], labels: 'x' }), keys), { allowed: true, warnings: [] });
  assert.deepEqual(validate(base('not metadata' as never), keys), { allowed: true, warnings: [] });
});

const POLICY = parseIpPolicy('namespaces:\n  shop: ["104.248.100.100", "104.248.101.0/28"]\n');
const inShop = (kind: string, operation: Operation, value: string, old?: string) =>
  validate(
    request(reviewOf(kind, operation, objectOf(kind, 'web', 'shop', { annotations: { [KEY]: value } }), old === undefined ? {} : { oldObject: objectOf(kind, 'web', 'shop', { annotations: { [KEY]: old } }) })),
    keys,
    POLICY,
  );

test('IP policy: every kind is denied an address its namespace may not claim, with what is allowed there', () => {
  for (const kind of ALL_KINDS) {
    assert.deepEqual(inShop(kind, 'CREATE', '104.248.100.100, 104.248.100.101'), {
      allowed: false,
      message: `${kind} shop/web: annotation ${KEY}: reserved IP 104.248.100.101 may not be claimed in namespace shop (floatip IP policy allows here: 104.248.100.100, 104.248.101.0/28)`,
      warnings: [],
    }, kind);
    assert.deepEqual(inShop(kind, 'CREATE', '104.248.100.100, 104.248.101.7'), { allowed: true, warnings: [] }, kind);
  }
});

test('IP policy: the namespace comes from the request; another namespace may claim nothing; no policy allows all', () => {
  const object = objectOf('Pod', 'web', 'games', { annotations: { [KEY]: '104.248.100.100' } });
  const review = reviewOf('Pod', 'CREATE', object);
  assert.deepEqual(validate(request(review), keys, POLICY), {
    allowed: false,
    message: `Pod games/web: annotation ${KEY}: reserved IP 104.248.100.100 may not be claimed in namespace games (floatip IP policy allows here: none)`,
    warnings: [],
  });
  // the object says nothing about its namespace (as on CREATE from a manifest without one)
  delete (object['metadata'] as Record<string, unknown>)['namespace'];
  assert.equal(validate(request({ ...review, request: { ...(review['request'] as object), namespace: 'shop' } }), keys, POLICY).allowed, true);
  assert.equal(validate(request(review), keys).allowed, true);
});

test('IP policy: an update that keeps a refused value is allowed with a warning; one that adds a refused IP is denied', () => {
  const refused = `Deployment shop/web: annotation ${KEY}: reserved IP 104.248.102.9 may not be claimed in namespace shop (floatip IP policy allows here: 104.248.100.100, 104.248.101.0/28)`;
  assert.deepEqual(inShop('Deployment', 'UPDATE', '104.248.102.9', '104.248.102.9'), {
    allowed: true,
    warnings: [`${refused} (allowed because this update does not change it)`],
  });
  assert.deepEqual(inShop('Deployment', 'UPDATE', '104.248.102.9', '104.248.100.100'), { allowed: false, message: refused, warnings: [] });
  // a syntax error is still reported as such, before any policy question
  assert.match((inShop('Pod', 'CREATE', '104.248.100') as { message: string }).message, /"104\.248\.100" is not an IPv4 or IPv6 address/);
});
