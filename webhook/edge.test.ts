// The webhook's edge against hostile bodies, over real TLS on 127.0.0.1: every pathological
// body gets an exact 4xx text or an exact AdmissionReview (never a bare 500), what is echoed
// stays short in answers and log lines, a review of 64 KiB of whitespace is answered within
// 50 ms, and a review that finds no room is told to retry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { createLogger } from '../shared/logger.ts';
import { generateLoopbackTls } from './tls/certs.ts';
import type { LoopbackTls } from './tls/certs.ts';
import { startWebhookServer } from './server.ts';
import type { RunningWebhookServer } from './server.ts';
import { httpsRequest } from './fixtures/https-client.ts';
import type { HttpAnswer } from './fixtures/https-client.ts';

const KEY = 'k8s.haim.dev/floating-ip';
const NOT_IP = 'is not an IPv4 or IPv6 address (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)';
const MiB = 1024 * 1024;

let tls: LoopbackTls;
let server: RunningWebhookServer;
const logLines: string[] = [];

before(async () => {
  tls = generateLoopbackTls();
  const logger = createLogger({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  server = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, logger });
});
after(async () => {
  await server.close({ graceMs: 100 });
});

const post = (path: string, body: string | Buffer) =>
  httpsRequest(`${server.url}${path}`, { ca: tls.caPem, method: 'POST', headers: { 'content-type': 'application/json' }, body });

const envelope = (request: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
const pod = (uid: string, metadata: unknown, extra: Record<string, unknown> = {}) =>
  envelope({ uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: { metadata }, ...extra });
const review = (response: unknown) => ({ status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }) });
const refused = (status: number, text: string) => ({ status, contentType: 'text/plain; charset=utf-8', body: `${text}\n` });
const nest = (n: number, inner = '1') => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;
const huge = 'K'.repeat(3 * MiB);
const cut = (s: string) => `${s.slice(0, 61)}...`;

// [what, path, body, exact answer]
const table: ReadonlyArray<readonly [string, string, () => string, HttpAnswer]> = [
  ['nesting 101 deep', '/validate', () => nest(101), refused(400, 'request body nests objects and arrays deeper than 100 levels')],
  ['nesting a million deep', '/mutate', () => nest(1_000_000), refused(400, 'request body nests objects and arrays deeper than 100 levels')],
  ['a deep value inside a real review', '/validate', () => pod('d', { annotations: { [KEY]: '104.248.100.100' }, labels: { x: JSON.parse(nest(200)) as unknown } }), refused(400, 'request body nests objects and arrays deeper than 100 levels')],
  ['a 3 MiB kind', '/validate', () => JSON.stringify({ kind: huge }), refused(400, `expected kind AdmissionReview, got "${cut(huge)}"`)],
  ['kind an object', '/mutate', () => JSON.stringify({ kind: { kind: 'AdmissionReview' } }), refused(400, 'expected kind AdmissionReview, got an object')],
  ['a 3 MiB apiVersion', '/validate', () => JSON.stringify({ kind: 'AdmissionReview', apiVersion: huge }), refused(400, `expected apiVersion admission.k8s.io/v1, got "${cut(huge)}" (set admissionReviewVersions: [v1])`)],
  ['request a string', '/validate', () => envelope('CREATE'), refused(400, 'AdmissionReview has no request')],
  ['uid a number', '/validate', () => envelope({ uid: 7, kind: { kind: 'Pod' }, operation: 'CREATE' }), refused(400, 'AdmissionReview request has no uid')],
  ['a 3 MiB uid', '/mutate', () => envelope({ uid: huge, kind: { kind: 'Pod' }, operation: 'CREATE' }), refused(400, `AdmissionReview request uid is ${huge.length} characters long; a Kubernetes UID has at most 128`)],
  ['operation an array', '/validate', () => envelope({ uid: 'u', kind: { kind: 'Pod' }, operation: ['CREATE'] }), refused(400, 'AdmissionReview request has an unknown operation an array')],
  ['a control character in a string', '/validate', () => '{"kind":"Admission\u0007Review"}', refused(400, 'request body is not valid JSON: unexpected byte 0x07 at offset 18 (a control character inside a string)')],
  ['a trailing comma', '/validate', () => '{"kind":"AdmissionReview",}', refused(400, 'request body is not valid JSON: unexpected "}" at offset 26 (expected a key in quotes)')],
  ['one byte over 3.5 MiB', '/validate', () => `"${'x'.repeat(3.5 * MiB - 1)}"`, refused(413, `request body is larger than ${3.5 * MiB} bytes`)],
  // reviews with wrong types inside are reviewed, not failed
  ['kind "constructor"', '/validate', () => envelope({ uid: 'c1', kind: { kind: 'constructor' }, operation: 'CREATE', object: {} }), review({ uid: 'c1', allowed: true })],
  ['kind "__proto__" on /mutate', '/mutate', () => envelope({ uid: 'c2', kind: { kind: '__proto__' }, operation: 'CREATE', object: {} }), review({ uid: 'c2', allowed: true })],
  ['metadata a string', '/validate', () => pod('m1', 'metadata'), review({ uid: 'm1', allowed: true })],
  ['metadata a string on /mutate', '/mutate', () => pod('m2', 'metadata'), review({ uid: 'm2', allowed: true })],
  ['object an array', '/mutate', () => envelope({ uid: 'o1', kind: { kind: 'Pod' }, operation: 'CREATE', object: [1] }), review({ uid: 'o1', allowed: true })],
  ['annotations an array', '/validate', () => pod('a1', { annotations: [KEY] }), review({ uid: 'a1', allowed: true })],
  ['the annotation 90 arrays deep', '/validate', () => pod('a2', { name: 'p', namespace: 'prod', annotations: { [KEY]: JSON.parse(nest(90, '"x"')) as unknown } }), review({ uid: 'a2', allowed: false, status: { code: 403, reason: 'Forbidden', message: `Pod prod/p: annotation ${KEY}: the value must be a string, got an array` } })],
  ['the label 90 arrays deep', '/validate', () => pod('l1', { name: 'p', namespace: 'prod', annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: JSON.parse(nest(90)) as unknown } }), review({ uid: 'l1', allowed: true, warnings: [`Pod prod/p: label ${KEY}=an array is not "true"; floatip's reconciler selects ${KEY}=true`] })],
  ['a 3 MiB label value on /mutate', '/mutate', () => pod('l2', { annotations: { [KEY]: '104.248.100.100' }, labels: { [KEY]: huge } }), review({ uid: 'l2', allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify([{ op: 'replace', path: '/metadata/labels/k8s.haim.dev~1floating-ip', value: 'true' }])).toString('base64'), warnings: [`label ${KEY}="${cut(huge)}" was set to "true" because the pod carries the ${KEY} annotation`] })],
  ['a 3 MiB name', '/validate', () => pod('n1', { name: huge, namespace: 'prod', annotations: { [KEY]: 'x' } }), review({ uid: 'n1', allowed: false, status: { code: 403, reason: 'Forbidden', message: `Pod prod/${cut(huge)}: annotation ${KEY}: "x" ${NOT_IP}` } })],
  ['name an object', '/validate', () => pod('n2', { name: { toString: 1 }, namespace: 'prod', annotations: { [KEY]: 'x' } }), review({ uid: 'n2', allowed: false, status: { code: 403, reason: 'Forbidden', message: `Pod prod/: annotation ${KEY}: "x" ${NOT_IP}` } })],
  ['a 256 KiB annotation', '/validate', () => pod('v1', { name: 'p', namespace: 'prod', annotations: { [KEY]: ' '.repeat(256 * 1024) } }), review({ uid: 'v1', allowed: false, status: { code: 403, reason: 'Forbidden', message: `Pod prod/p: annotation ${KEY}: the value is 262144 bytes long, more than the 4096 bytes a list of reserved IPs may take (expected e.g. 104.248.100.100, 2604:a880:800:14::1)` } })],
];

for (const [what, path, body, expected] of table) {
  test(`${what}: ${expected.status}, exactly`, async () => {
    assert.deepEqual(await post(path, body()), expected);
  });
}

test('no log line repeats more than a short prefix of the input', () => {
  // The table above sent 3 MiB kinds, uids, names and labels; the log lines name them cut short.
  assert.ok(logLines.length > table.length, `only ${logLines.length} log lines`);
  const longest = Math.max(...logLines.map((l) => l.length));
  assert.ok(longest < 1024, `a ${longest}-byte log line`);
  assert.ok(logLines.some((l) => l.includes(`got \\"${cut(huge)}\\"`)), 'the refusal of the 3 MiB kind is logged, cut');
});

test('64 KiB of whitespace in an entry: the denial arrives within 50 ms end to end', async (t) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: tls.caPem });
  const send = (body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/validate`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    const value = `x${' '.repeat(64 * 1024)}x`;
    const body = pod('ws', { name: 'p', namespace: 'prod', annotations: { [KEY]: value } });
    await send(body); // the TLS handshake and first-call compilation are not what is measured
    const started = performance.now();
    const answer = await send(body);
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 200);
    const expected = `Pod prod/p: annotation ${KEY}: the value is 65538 bytes long, more than the 4096 bytes a list of reserved IPs may take (expected e.g. 104.248.100.100, 2604:a880:800:14::1)`;
    assert.equal((JSON.parse(answer.body) as { response: { status: { message: string } } }).response.status.message, expected);
    assert.ok(elapsed < 50, `answered in ${elapsed.toFixed(1)} ms`);
    t.diagnostic(`answered in ${elapsed.toFixed(1)} ms`);
  } finally {
    agent.destroy();
  }
});

test('a review that finds no room within the wait gets 429, Retry-After: 1, and the held one still completes', async () => {
  const review = Buffer.from(pod('held', { name: 'p', namespace: 'prod', annotations: { [KEY]: '104.248.100.100' } }));
  const small = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, admission: { budgetBytes: review.length, maxWaitMs: 200 } });
  try {
    // The first review sends half its body and holds its room...
    let finish: () => void = () => {};
    const held = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${small.url}/validate`, { method: 'POST', ca: tls.caPem, agent: false, headers: { 'content-type': 'application/json', 'content-length': review.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.write(review.subarray(0, review.length >> 1));
      finish = () => req.end(review.subarray(review.length >> 1));
    });
    const gauge = async () => (await small.metrics.registry.getSingleMetric('floatip_webhook_admission_bytes')?.get())?.values[0]?.value;
    for (let i = 0; (await gauge()) !== review.length; i++) {
      assert.ok(i < 500, 'the first review never got its room');
      await new Promise((r) => setImmediate(r));
    }
    // ...so the second waits 200 ms for room, then is told to come back.
    const answer = await new Promise<{ status: number; retryAfter: unknown; connection: unknown; body: string }>((resolve, reject) => {
      const req = request(`${small.url}/validate`, { method: 'POST', ca: tls.caPem, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], connection: res.headers.connection, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(review);
    });
    assert.deepEqual(answer, { status: 429, retryAfter: '1', connection: 'close', body: 'the webhook is busy with other reviews; retry in 1 s\n' });
    finish();
    const first = await held;
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(first.body), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'held', allowed: true } });
    assert.match(await small.metrics.registry.metrics(), /^floatip_webhook_bad_requests_total\{webhook="validate",code="429"\} 1$/m);
  } finally {
    await small.close({ graceMs: 100 });
  }
});

test('metrics label only known kinds: a thousand made-up kinds add one series', async () => {
  for (let i = 0; i < 20; i++) {
    await post('/validate', envelope({ uid: `k${i}`, kind: { kind: `Made-Up-${i}-${'x'.repeat(1000)}` }, operation: 'CREATE', object: {} }));
  }
  const text = await server.metrics.registry.metrics();
  const series = text.split('\n').filter((l) => l.startsWith('floatip_webhook_reviews_total{') && l.includes('Made-Up'));
  assert.deepEqual(series, []);
  assert.match(text, /^floatip_webhook_reviews_total\{webhook="validate",kind="other",operation="CREATE",result="allowed"\} \d+$/m);
});
