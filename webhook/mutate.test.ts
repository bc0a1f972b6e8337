import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatingIpKeys } from '../shared/keys.ts';
import { decodeAdmissionReview } from './review.ts';
import type { AdmissionRequest } from './review.ts';
import { diffJson, escapePointerToken, mutate } from './mutate.ts';
import { loadFixture, objectOf, reviewOf } from './fixtures/reviews.ts';

const keys = floatingIpKeys();

function request(review: Record<string, unknown>): AdmissionRequest {
  const decoded = decodeAdmissionReview(review);
  assert.ok(decoded.ok);
  return decoded.request;
}

test('escapePointerToken follows RFC 6901', () => {
  assert.equal(escapePointerToken('k8s.haim.dev/floating-ip'), 'k8s.haim.dev~1floating-ip');
  assert.equal(escapePointerToken('a~b/c'), 'a~0b~1c');
});

test('a pod from a ReplicaSet gets the label added next to its labels', () => {
  assert.deepEqual(mutate(request(loadFixture('pod-create-from-replicaset')), keys), {
    patch: [{ op: 'add', path: '/metadata/labels/k8s.haim.dev~1floating-ip', value: 'true' }],
    warnings: [],
  });
});

test('a pod without labels gets the whole labels map added', () => {
  assert.deepEqual(mutate(request(loadFixture('pod-create-no-labels')), keys), {
    patch: [{ op: 'add', path: '/metadata/labels', value: { 'k8s.haim.dev/floating-ip': 'true' } }],
    warnings: [],
  });
});

test('an already-labelled pod needs no patch (idempotent)', () => {
  const pod = objectOf('Pod', 'p', 'ns', { annotations: { [keys.annotation]: '104.248.100.100' }, labels: { [keys.label]: 'true', app: 'x' } });
  assert.deepEqual(mutate(request(reviewOf('Pod', 'UPDATE', pod)), keys), { patch: [], warnings: [] });
});

test('a wrong label value is replaced, with a warning; other labels stay', () => {
  const pod = objectOf('Pod', 'p', 'ns', { annotations: { [keys.annotation]: '104.248.100.100' }, labels: { [keys.label]: 'false', app: 'x' } });
  assert.deepEqual(mutate(request(reviewOf('Pod', 'CREATE', pod)), keys), {
    patch: [{ op: 'replace', path: '/metadata/labels/k8s.haim.dev~1floating-ip', value: 'true' }],
    warnings: ['label k8s.haim.dev/floating-ip="false" was set to "true" because the pod carries the k8s.haim.dev/floating-ip annotation'],
  });
});

test('a labelled pod without the annotation keeps its label (nothing the user set is removed)', () => {
  const pod = objectOf('Pod', 'p', 'ns', { labels: { [keys.label]: 'true' } });
  assert.deepEqual(mutate(request(reviewOf('Pod', 'UPDATE', pod)), keys), { patch: [], warnings: [] });
});

test('workloads are not mutated; their pods are', () => {
  const deploy = objectOf('Deployment', 'd', 'ns', { annotations: { [keys.annotation]: '104.248.100.100' } });
  assert.deepEqual(mutate(request(reviewOf('Deployment', 'CREATE', deploy)), keys), { patch: [], warnings: [] });
});

test('a custom key prefix is escaped too', () => {
  const custom = floatingIpKeys('ips.example.org/reserved');
  const pod = objectOf('Pod', 'p', 'ns', { annotations: { 'ips.example.org/reserved': '104.248.100.100' }, labels: {} });
  assert.deepEqual(mutate(request(reviewOf('Pod', 'CREATE', pod)), custom).patch, [
    { op: 'add', path: '/metadata/labels/ips.example.org~1reserved', value: 'true' },
  ]);
});

test('diffJson: adds, removes, replaces; arrays whole', () => {
  assert.deepEqual(diffJson({ a: 1, b: { c: [1, 2] }, d: 'x' }, { a: 1, b: { c: [1, 3], e: null } }), [
    { op: 'remove', path: '/d' },
    { op: 'replace', path: '/b/c', value: [1, 3] },
    { op: 'add', path: '/b/e', value: null },
  ]);
  assert.deepEqual(diffJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
});
