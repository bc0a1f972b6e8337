import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, burstWaitMs, classify, headerNumber, isRetriedInCall, pollDelayMs, rateLimitRemaining, rateLimitWaitMs } from './retry.ts';

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

test('a 429 carries the wait the API asked for, or the short fallback without retry-after', () => {
  assert.equal(classify(429, {}, { 'retry-after': '3' }, NOW).retryAfterMs, 3000);
  assert.equal(classify(429, {}, { 'ratelimit-reset': String(NOW / 1000 + 42) }, NOW).retryAfterMs, 1000);
  assert.equal(classify(429, {}, { 'ratelimit-reset': String(NOW / 1000 + 42) }, NOW, 2500).retryAfterMs, 2500);
  assert.equal(classify(503, {}, { 'retry-after': '3' }, NOW).retryAfterMs, undefined);
});

test('rateLimitWaitMs: retry-after seconds or date, capped at 60 s; without it the fallback, cut short by an earlier reset, never the hourly reset', () => {
  const hourly = String(NOW / 1000 + 3600);
  const table: [Record<string, string>, number | undefined, number][] = [
    [{ 'retry-after': '0' }, undefined, 0],
    [{ 'retry-after': '1.5' }, undefined, 1500],
    [{ 'retry-after': 'Wed, 25 Nov 2026 12:00:07 GMT' }, undefined, 7000],
    [{ 'retry-after': '2', 'ratelimit-reset': String(NOW / 1000 + 60) }, undefined, 2000],
    [{ 'retry-after': '90', 'ratelimit-reset': hourly }, 3000, 60_000],
    [{ 'retry-after': '86400' }, undefined, 60_000],
    [{ 'retry-after': '60' }, undefined, 60_000],
    [{ 'retry-after': 'Thu, 26 Nov 2026 12:00:00 GMT' }, undefined, 60_000],
    [{ 'retry-after': '-4' }, undefined, 0],
    [{ 'ratelimit-reset': hourly }, undefined, 1000],
    [{ 'ratelimit-reset': hourly }, 3000, 3000],
    [{ 'retry-after': 'soon', 'ratelimit-reset': hourly }, 3000, 3000],
    [{ 'ratelimit-reset': String(NOW / 1000 + 2) }, 3000, 2000],
    [{ 'ratelimit-reset': String(NOW / 1000 - 5) }, 3000, 0],
    [{}, undefined, 1000],
    [{}, 4500, 4500],
    [{ 'retry-after': '' }, undefined, 1000],
  ];
  for (const [headers, fallback, expected] of table) {
    assert.equal(rateLimitWaitMs(headers, NOW, fallback), expected, JSON.stringify([headers, fallback]));
  }
});

test('burstWaitMs: equal jitter in [c/2, c) under a doubling, capped ceiling', () => {
  const opts = { burstBaseMs: 2000, burstCapMs: 8000 };
  assert.deepEqual([0, 1, 2, 3, 9].map((n) => burstWaitMs(n, opts, () => 0)), [1000, 2000, 4000, 4000, 4000]);
  assert.deepEqual([0, 1, 2, 3].map((n) => burstWaitMs(n, opts, () => 0.5)), [1500, 3000, 6000, 6000]);
  assert.deepEqual([0, 1, 2].map((n) => burstWaitMs(n, opts, () => 0.9999)), [1999, 3999, 7999]);
});

test('429s are retried inside a call; Transient only for idempotent methods; the rest never', () => {
  const classes = ['NotFound', 'InProgress', 'Conflict', 'RateLimited', 'Transient', 'Terminal'] as const;
  const retried = (method: string) => classes.filter((c) => isRetriedInCall(c, method));
  assert.deepEqual(retried('GET'), ['RateLimited', 'Transient']);
  assert.deepEqual(retried('PUT'), ['RateLimited', 'Transient']);
  assert.deepEqual(retried('DELETE'), ['RateLimited', 'Transient']);
  assert.deepEqual(retried('POST'), ['RateLimited'], 'DigitalOcean may have applied a POST whose answer was lost');
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
