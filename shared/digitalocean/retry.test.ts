import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, classify, headerNumber, isRetriedInCall, pollDelayMs, rateLimitRemaining, rateLimitWaitMs } from './retry.ts';

const NOW = Date.parse('2026-11-25T12:00:00Z');

test('classify maps every status to its class once', () => {
  const table: [number | undefined, string][] = [
    [undefined, 'Transient'],
    [500, 'Transient'],
    [502, 'Transient'],
    [503, 'Transient'],
    [504, 'Transient'],
    [408, 'Transient'],
    [429, 'RateLimited'],
    [404, 'NotFound'],
    [422, 'InProgress'],
    [401, 'Terminal'],
    [403, 'Terminal'],
    [400, 'Terminal'],
    [409, 'Terminal'],
  ];
  for (const [status, expected] of table) {
    assert.equal(classify(status, undefined, {}, NOW).errorClass, expected, `status ${status}`);
  }
});

test('classify reads the {id, message, request_id} error body', () => {
  const body = { id: 'unprocessable_entity', message: 'Droplet already has a pending event.', request_id: 'r-1' };
  assert.deepEqual(classify(422, body, {}, NOW), {
    errorClass: 'InProgress',
    doId: 'unprocessable_entity',
    doMessage: 'Droplet already has a pending event.',
    requestId: 'r-1',
    retryAfterMs: undefined,
  });
  // non-JSON bodies (an HTML 502 page from a proxy) classify by status alone
  assert.deepEqual(classify(502, '<html>bad gateway</html>', { 'x-request-id': 'hdr' }, NOW), {
    errorClass: 'Transient',
    doId: undefined,
    doMessage: undefined,
    requestId: 'hdr',
    retryAfterMs: undefined,
  });
});

test('a 429 carries the wait the API asked for', () => {
  assert.equal(classify(429, {}, { 'retry-after': '3' }, NOW).retryAfterMs, 3000);
  assert.equal(classify(429, {}, { 'ratelimit-reset': String(NOW / 1000 + 42) }, NOW).retryAfterMs, 42_000);
  assert.equal(classify(503, {}, { 'retry-after': '3' }, NOW).retryAfterMs, undefined);
});

test('rateLimitWaitMs: retry-after seconds or date first, then ratelimit-reset, else 1 s', () => {
  assert.equal(rateLimitWaitMs({ 'retry-after': '0' }, NOW), 0);
  assert.equal(rateLimitWaitMs({ 'retry-after': '1.5' }, NOW), 1500);
  assert.equal(rateLimitWaitMs({ 'retry-after': 'Wed, 25 Nov 2026 12:00:07 GMT' }, NOW), 7000);
  assert.equal(rateLimitWaitMs({ 'retry-after': '2', 'ratelimit-reset': String(NOW / 1000 + 60) }, NOW), 2000);
  assert.equal(rateLimitWaitMs({ 'retry-after': 'soon', 'ratelimit-reset': String(NOW / 1000 + 9) }, NOW), 9000);
  assert.equal(rateLimitWaitMs({ 'ratelimit-reset': String(NOW / 1000 - 5) }, NOW), 0, 'a reset in the past means now');
  assert.equal(rateLimitWaitMs({ 'retry-after': '-4' }, NOW), 0);
  assert.equal(rateLimitWaitMs({}, NOW), 1000);
  assert.equal(rateLimitWaitMs({ 'retry-after': '' }, NOW), 1000);
});

test('only Transient and RateLimited are retried inside a call', () => {
  const retried = ['NotFound', 'InProgress', 'Conflict', 'RateLimited', 'Transient', 'Terminal'].filter((c) =>
    isRetriedInCall(c as Parameters<typeof isRetriedInCall>[0]),
  );
  assert.deepEqual(retried, ['RateLimited', 'Transient']);
});

test('backoff is full jitter under a doubling, capped ceiling', () => {
  const opts = { baseMs: 100, capMs: 1000 };
  const top = () => 0.9999;
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffMs(n, opts, top)), [99, 199, 399, 799, 999, 999]);
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffMs(n, opts, () => 0)), [0, 0, 0, 0]);
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffMs(n, opts, () => 0.5)), [50, 100, 200, 400, 500]);
  assert.equal(backoffMs(-3, opts, () => 0.5), 50, 'negative retry counts as the first');
});

test('action polling doubles from initialMs up to maxMs', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => pollDelayMs(n, { initialMs: 250, maxMs: 2000 })), [250, 500, 1000, 2000, 2000, 2000]);
});

test('header helpers accept strings, numbers and arrays, ignore junk', () => {
  assert.equal(rateLimitRemaining({ 'ratelimit-remaining': '4816' }), 4816);
  assert.equal(rateLimitRemaining({ 'ratelimit-remaining': 12 }), 12);
  assert.equal(rateLimitRemaining({ 'ratelimit-remaining': ['7'] }), 7);
  assert.equal(rateLimitRemaining({ 'ratelimit-remaining': 'many' }), undefined);
  assert.equal(rateLimitRemaining({ 'ratelimit-remaining': '' }), undefined);
  assert.equal(rateLimitRemaining({}), undefined);
  assert.equal(headerNumber({ 'ratelimit-reset': '1444931833' }, 'ratelimit-reset'), 1444931833);
});
