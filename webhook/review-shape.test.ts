// The skimmed review must be as good as the whole one: for every kind, operation and a set
// of odd bodies, decode + validate + mutate give exactly the same answer on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatingIpKeys } from '../shared/keys.ts';
import { decodeAdmissionReview } from './review.ts';
import type { Operation } from './review.ts';
import { validate } from './validate.ts';
import { mutate } from './mutate.ts';
import { skimJson } from './skim.ts';
import { reviewShape } from './review-shape.ts';
import { ALL_KINDS, loadFixture, objectOf, reviewOf } from './fixtures/reviews.ts';

const keys = floatingIpKeys();
const KEY = keys.annotation;
const shape = reviewShape(keys);

function outcome(review: unknown) {
  const decoded = decodeAdmissionReview(review);
  if (!decoded.ok) return decoded;
  return { validate: validate(decoded.request, keys), mutate: mutate(decoded.request, keys) };
}

function assertSame(body: unknown, what: string) {
  const text = JSON.stringify(body);
  const skimmed = skimJson(Buffer.from(text), shape);
  assert.ok(skimmed.ok, what);
  assert.deepEqual(outcome(skimmed.value), outcome(JSON.parse(text)), what);
}

test('the recorded reviews answer the same skimmed and whole', () => {
  for (const name of ['cronjob-update', 'deployment-create-bad', 'pod-create-from-replicaset', 'pod-create-no-labels']) {
    assertSame(loadFixture(name), name);
  }
});

const podMetas: Array<[string, Record<string, unknown>]> = [
  ['good', { annotations: { [KEY]: '104.248.100.100', other: 'x'.repeat(1000) }, labels: { app: 'a' } }],
  ['bad', { annotations: { [KEY]: '104.248.100' } }],
  ['labelled', { annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: 'false', app: 'a' } }],
  ['label only', { labels: { [KEY]: 'true' } }],
  ['plain', { labels: { app: 'a' } }],
  ['no labels map', { annotations: { [KEY]: '2604:a880:800:14::1' } }],
  ['annotation not a string', { annotations: { [KEY]: { deep: [1, 2] } } }],
  ['annotation a number', { annotations: { [KEY]: 7 } }],
  ['annotations an array', { annotations: [KEY] }],
  ['labels a string', { annotations: { [KEY]: '104.248.100.100' }, labels: 'app=a' }],
  ['label an array', { annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: ['true'] } }],
  ['name an object', { name: { toString: 1 }, annotations: { [KEY]: '10.0.0.1' } }],
];

for (const kind of ALL_KINDS) {
  for (const operation of ['CREATE', 'UPDATE', 'DELETE'] as Operation[]) {
    test(`${kind} ${operation}: every variant answers the same skimmed and whole`, () => {
      for (const [what, pod] of podMetas) {
        const object = objectOf(kind, 'web', 'prod', pod as never, { annotations: { [KEY]: 'on the workload' } } as never);
        const oldObject = objectOf(kind, 'web', 'prod', pod as never);
        assertSame(reviewOf(kind, operation, object, operation === 'CREATE' ? {} : { oldObject }), `${what}`);
        const deleting = objectOf(kind, 'web', 'prod', pod as never, { deletionTimestamp: '2026-01-01T00:00:00Z' } as never);
        assertSame(reviewOf(kind, operation, deleting, { oldObject }), `${what}, deleting`);
      }
    });
  }
}

test('bodies that are not usable reviews are refused with the same message skimmed and whole', () => {
  const bodies: unknown[] = [
    [],
    'AdmissionReview',
    { kind: 'Pod' },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1' },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: 'x' },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 5 } },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', kind: 'Pod' } },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', kind: { kind: 'Pod' }, operation: ['CREATE'] } },
    { kind: { nested: true }, apiVersion: 'admission.k8s.io/v1' },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', kind: { kind: 'constructor' }, operation: 'CREATE', object: {} } },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', object: 'a string' } },
    { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', object: { metadata: [] } } },
  ];
  for (const body of bodies) assertSame(body, JSON.stringify(body));
});
