// HTTP-level: the real TLS server on 127.0.0.1, real AdmissionReview JSON for every kind,
// exact JSON answers; malformed bodies get exact 4xx texts and never take the server down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateLoopbackTls } from './tls/certs.ts';
import type { LoopbackTls } from './tls/certs.ts';
import { startWebhookServer } from './server.ts';
import type { RunningWebhookServer } from './server.ts';
import { ALL_KINDS, loadFixture, objectOf, reviewOf } from './fixtures/reviews.ts';
import { httpsRequest, postJson } from './fixtures/https-client.ts';

const KEY = 'k8s.haim.dev/floating-ip';
const NOT_IP = 'is not an IPv4 or IPv6 address (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)';
const LABEL_PATCH = Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/labels/k8s.haim.dev~1floating-ip', value: 'true' }])).toString('base64');
const NEW_LABELS_PATCH = Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/labels', value: { [KEY]: 'true' } }])).toString('base64');

let tls: LoopbackTls;
let server: RunningWebhookServer;

before(async () => {
  tls = generateLoopbackTls();
  server = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, maxBodyBytes: 64 * 1024 });
});
after(async () => {
  await server.close({ graceMs: 100 });
});

const review = (response: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });

async function postReview(path: string, body: unknown) {
  const answer = await postJson(`${server.url}${path}`, tls.caPem, body);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.contentType, 'application/json; charset=utf-8');
  return JSON.parse(answer.body) as unknown;
}

for (const kind of ALL_KINDS) {
  for (const operation of ['CREATE', 'UPDATE'] as const) {
    test(`${kind} ${operation} over HTTPS: /validate allows, denies, ignores; /mutate labels pods only`, async () => {
      const uid = `${kind}-${operation}`;
      const good = objectOf(kind, 'edge', 'prod', { annotations: { [KEY]: '104.248.100.100' }, labels: { app: 'edge' } });
      const bad = objectOf(kind, 'edge', 'prod', { annotations: { [KEY]: '104.248.100' } });
      const plain = objectOf(kind, 'edge', 'prod', { labels: { app: 'edge' } });
      const old = operation === 'UPDATE' ? { oldObject: plain } : {};

      assert.deepEqual(await postReview('/validate', reviewOf(kind, operation, good, { uid, ...old })), review({ uid, allowed: true }));
      assert.deepEqual(
        await postReview('/validate', reviewOf(kind, operation, bad, { uid, ...old })),
        review({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: `${kind} prod/edge: annotation ${KEY}: "104.248.100" ${NOT_IP}` } }),
      );
      assert.deepEqual(await postReview('/validate', reviewOf(kind, operation, plain, { uid, ...old })), review({ uid, allowed: true }));

      const mutated = await postReview('/mutate', reviewOf(kind, operation, good, { uid, ...old }));
      const expected = kind === 'Pod' ? { uid, allowed: true, patchType: 'JSONPatch', patch: LABEL_PATCH } : { uid, allowed: true };
      assert.deepEqual(mutated, review(expected));
      assert.deepEqual(await postReview('/mutate', reviewOf(kind, operation, plain, { uid, ...old })), review({ uid, allowed: true }));
    });
  }
}

test('recorded reviews: a bad Deployment is denied, a pod without labels gets the labels map', async () => {
  assert.deepEqual(
    await postReview('/validate', loadFixture('deployment-create-bad')),
    review({
      uid: 'c1b0a9f8-e7d6-4c5b-a493-827160fedcba',
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: `Deployment default/traefik: annotation ${KEY}: "104.248.100" ${NOT_IP}` },
    }),
  );
  assert.deepEqual(
    await postReview('/mutate', loadFixture('pod-create-no-labels')),
    review({ uid: '7a3c9e51-2b64-4d1f-a0c8-3e5d7f9b1a42', allowed: true, patchType: 'JSONPatch', patch: NEW_LABELS_PATCH }),
  );
});

test('warnings travel in the review', async () => {
  const obj = objectOf('Pod', 'p', 'prod', { labels: { [KEY]: 'true' } });
  assert.deepEqual(
    await postReview('/validate', reviewOf('Pod', 'CREATE', obj, { uid: 'w1' })),
    review({ uid: 'w1', allowed: true, warnings: [`Pod prod/p: label ${KEY} is set without the ${KEY} annotation, so floatip routes no IP to this pod`] }),
  );
});

const badBodies: Array<[string, Record<string, string>, string | Buffer, number, string]> = [
  ['wrong content type', { 'content-type': 'text/plain' }, '{}', 415, 'content type must be application/json, got "text/plain"\n'],
  ['no content type', {}, '{}', 415, 'content type must be application/json, got ""\n'],
  ['malformed JSON', { 'content-type': 'application/json' }, '{"kind":', 400, 'request body is not valid JSON: it ends before the JSON value does\n'],
  ['empty body', { 'content-type': 'application/json' }, '', 400, 'request body is not valid JSON: it is empty\n'],
  ['not an AdmissionReview', { 'content-type': 'application/json' }, '{"kind":"Pod"}', 400, 'expected kind AdmissionReview, got "Pod"\n'],
  ['a JSON array', { 'content-type': 'application/json; charset=utf-8' }, '[]', 400, 'request body is not a JSON object\n'],
  ['over the size limit', { 'content-type': 'application/json' }, Buffer.alloc(65 * 1024, 0x20), 413, 'request body is larger than 65536 bytes\n'],
];
for (const [what, headers, body, status, message] of badBodies) {
  test(`${what}: ${status} with a clear text`, async () => {
    for (const path of ['/validate', '/mutate']) {
      const answer = await httpsRequest(`${server.url}${path}`, { ca: tls.caPem, method: 'POST', headers, body });
      assert.deepEqual(answer, { status, contentType: 'text/plain; charset=utf-8', body: message });
    }
  });
}

test('health, readiness, unknown routes', async () => {
  const get = (path: string) => httpsRequest(`${server.url}${path}`, { ca: tls.caPem });
  assert.deepEqual(await get('/healthz'), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok\n' });
  assert.deepEqual(await get('/readyz'), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok\n' });
  server.setReady(false);
  assert.deepEqual(await get('/readyz'), { status: 503, contentType: 'text/plain; charset=utf-8', body: 'not ready\n' });
  server.setReady(true);
  assert.deepEqual(await get('/nope'), { status: 404, contentType: 'text/plain; charset=utf-8', body: 'no route for GET /nope\n' });
});

test('/metrics counts reviews by kind, operation and result', async () => {
  const obj = objectOf('Job', 'j', 'prod', { annotations: { [KEY]: '10.20.0.1' } });
  // prom-client hands out its live objects: read the number before the next review.
  const denials = async () =>
    (await server.metrics.registry.getSingleMetric('floatip_webhook_reviews_total')?.get())?.values.find(
      (x) => x.labels.webhook === 'validate' && x.labels.kind === 'Job' && x.labels.result === 'denied' && x.labels.operation === 'CREATE',
    )?.value ?? 0;
  const initial = await denials();
  await postReview('/validate', reviewOf('Job', 'CREATE', obj, { uid: 'm1' }));
  assert.equal(await denials(), initial + 1);
  const answer = await httpsRequest(`${server.url}/metrics`, { ca: tls.caPem });
  assert.equal(answer.status, 200);
  assert.match(answer.body, /^floatip_webhook_reviews_total\{webhook="validate",kind="Job",operation="CREATE",result="denied"\} \d+$/m);
  assert.match(answer.body, /^floatip_webhook_review_duration_seconds_count\{webhook="validate"\} \d+$/m);
  assert.match(answer.body, /^floatip_webhook_bad_requests_total\{webhook="validate",code="415"\} 2$/m);
});

test('a new certificate is served from the next handshake on', async () => {
  const next = generateLoopbackTls();
  server.setTls({ cert: next.certPem, key: next.keyPem });
  await assert.rejects(httpsRequest(`${server.url}/healthz`, { ca: tls.caPem }), /self-signed|unable to verify|certificate/);
  assert.equal((await httpsRequest(`${server.url}/healthz`, { ca: next.caPem })).status, 200);
  server.setTls({ cert: tls.certPem, key: tls.keyPem });
});

test('an error thrown inside a review still answers an AdmissionReview (errored, uid echoed)', async () => {
  // Keys whose annotation getter throws once armed (the server reads it once at start to
  // know which fields to decode): the simplest way to make the pure core fail.
  let armed = false;
  const exploding = {
    get annotation(): string {
      if (armed) throw new Error('keys exploded');
      return KEY;
    },
    label: KEY,
    selector: `${KEY}=true`,
  };
  const broken = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, keys: exploding });
  armed = true;
  try {
    const obj = objectOf('Pod', 'p', 'prod', { annotations: { [KEY]: '104.248.100.100' } });
    const answer = await postJson(`${broken.url}/validate`, tls.caPem, reviewOf('Pod', 'CREATE', obj, { uid: 'e1' }));
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), review({ uid: 'e1', allowed: false, status: { code: 500, message: 'floatip validate webhook failed: keys exploded' } }));
    // and the server still answers afterwards
    assert.equal((await httpsRequest(`${broken.url}/healthz`, { ca: tls.caPem })).status, 200);
  } finally {
    await broken.close({ graceMs: 100 });
  }
});
