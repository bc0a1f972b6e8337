import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowed, decodeAdmissionReview, denied, errored, patched } from './review.ts';
import { loadFixture } from './fixtures/reviews.ts';

test('allowed echoes the uid, omits empty warnings', () => {
  assert.deepEqual(allowed('u1'), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u1', allowed: true } });
  assert.deepEqual(allowed('u1', ['careful']).response, { uid: 'u1', allowed: true, warnings: ['careful'] });
});

test('denied carries 403 Forbidden and the message', () => {
  assert.deepEqual(denied('u2', 'Pod a/b: bad', ['w']), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'u2', allowed: false, status: { code: 403, reason: 'Forbidden', message: 'Pod a/b: bad' }, warnings: ['w'] },
  });
});

test('patched base64-encodes the JSON Patch; an empty patch is a plain allow', () => {
  const review = patched('u3', [{ op: 'add', path: '/metadata/labels/k8s.haim.dev~1floating-ip', value: 'true' }]);
  assert.deepEqual(review.response, {
    uid: 'u3',
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from('[{"op":"add","path":"/metadata/labels/k8s.haim.dev~1floating-ip","value":"true"}]').toString('base64'),
  });
  assert.deepEqual(patched('u4', []).response, { uid: 'u4', allowed: true });
});

test('errored is not allowed and carries the code', () => {
  assert.deepEqual(errored('u5', 500, 'boom').response, { uid: 'u5', allowed: false, status: { code: 500, message: 'boom' } });
});

test('decodeAdmissionReview reads a recorded review', () => {
  const result = decodeAdmissionReview(loadFixture('pod-create-from-replicaset'));
  assert.ok(result.ok);
  assert.equal(result.request.uid, '0df28fbd-5f5f-4a2b-9e6c-1a7b3c9d2e11');
  assert.deepEqual(result.request.kind, { group: '', version: 'v1', kind: 'Pod' });
  assert.equal(result.request.operation, 'CREATE');
  assert.equal(result.request.namespace, 'default');
  assert.equal(result.request.oldObject, undefined);
  assert.equal(result.request.dryRun, false);
});

test('decodeAdmissionReview rejects what is not an admission.k8s.io/v1 request, with a clear text', () => {
  const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
  const req = { uid: 'x', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' };
  const cases: Array<[unknown, string]> = [
    [null, 'request body is not a JSON object'],
    [[1], 'request body is not a JSON object'],
    [{ kind: 'Pod' }, 'expected kind AdmissionReview, got "Pod"'],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1', request: req }, 'expected apiVersion admission.k8s.io/v1, got "admission.k8s.io/v1beta1" (set admissionReviewVersions: [v1])'],
    [base, 'AdmissionReview has no request'],
    [{ ...base, request: { ...req, uid: '' } }, 'AdmissionReview request has no uid'],
    [{ ...base, request: { ...req, kind: 'Pod' } }, 'AdmissionReview request has no kind'],
    [{ ...base, request: { ...req, operation: 'PATCH' } }, 'AdmissionReview request has an unknown operation "PATCH"'],
    // what is echoed is short, and containers are named by type only
    [{ ...base, request: { ...req, uid: 'u'.repeat(129) } }, 'AdmissionReview request uid is 129 characters long; a Kubernetes UID has at most 128'],
    [{ kind: 'K'.repeat(3 * 1024 * 1024) }, `expected kind AdmissionReview, got "${'K'.repeat(61)}..."`],
    [{ kind: { kind: 'AdmissionReview' } }, 'expected kind AdmissionReview, got an object'],
    [{}, 'expected kind AdmissionReview, got nothing'],
    [{ kind: 'AdmissionReview', apiVersion: 7 }, 'expected apiVersion admission.k8s.io/v1, got 7 (set admissionReviewVersions: [v1])'],
    [{ ...base, request: { ...req, operation: ['CREATE'] } }, 'AdmissionReview request has an unknown operation an array'],
  ];
  for (const [body, message] of cases) assert.deepEqual(decodeAdmissionReview(body), { ok: false, message });
});
