// Memory under concurrent maximum-size reviews, measured on the webhook as its own process
// (bench/webhook-memory.ts): 16 reviews of the largest accepted size at once, three rounds;
// the kernel's RSS high-water mark must stay under the memory limit the Deployment sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_BODY_BYTES } from './app.ts';
import { benchWebhookMemory, formatWebhookMemory, manifestMemoryLimitBytes, maxSizeReview, quantityBytes } from '../bench/webhook-memory.ts';

test('memory quantities as Kubernetes writes them', () => {
  const cases: Array<[string, number]> = [
    ['384Mi', 384 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['512M', 512e6],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['100', 100],
  ];
  for (const [text, bytes] of cases) assert.equal(quantityBytes(text), bytes, text);
  assert.throws(() => quantityBytes('lots'), /"lots" is not a memory quantity such as 256Mi/);
});

test('the benchmark review is exactly the requested size and a valid AdmissionReview', () => {
  const body = maxSizeReview(DEFAULT_MAX_BODY_BYTES - 1024, 'u');
  assert.equal(body.length, DEFAULT_MAX_BODY_BYTES - 1024);
  const parsed = JSON.parse(body.toString()) as { kind: string; request: { uid: string } };
  assert.deepEqual([parsed.kind, parsed.request.uid], ['AdmissionReview', 'u']);
});

test('16 concurrent maximum-size reviews stay under the webhook container memory limit', async (t) => {
  const result = await benchWebhookMemory({ concurrency: 16, rounds: 3, bodyBytes: DEFAULT_MAX_BODY_BYTES - 1024, timeLimitMs: 120_000 });
  t.diagnostic(formatWebhookMemory(result));
  assert.equal(result.limitBytes, manifestMemoryLimitBytes());
  const answered = Object.values(result.statuses).reduce((a, b) => a + b, 0);
  assert.equal(answered, 48);
  // 429 (come back in a second) is a legitimate answer under load; nothing else is.
  assert.deepEqual(Object.keys(result.statuses).filter((s) => s !== '200' && s !== '429'), []);
  assert.ok((result.statuses['200'] ?? 0) >= 16, `only ${result.statuses['200'] ?? 0} reviews answered 200`);
  assert.ok(result.peakRssBytes < result.limitBytes, `peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB ≥ limit ${(result.limitBytes / 2 ** 20).toFixed(0)} MiB`);
});
