// Test helpers: call the emulator's API and admin endpoints. Every /v2 response that passes
// through `api()` is checked against the OpenAPI spec, so each test doubles as a
// conformance check; a response outside the spec's paths must at least be a DO error.
import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';
import { createFakeClock } from '../support/fake-clock.ts';
import type { FakeClock } from '../support/fake-clock.ts';
import { startEmulator } from './server.ts';
import type { RunningEmulator } from './server.ts';
import { specValidator } from './spec-validator.ts';

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // Tests read into bodies freely; their shape is what the spec validation checks.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

async function call(url: string, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<ApiResponse> {
  const res = await fetch(url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** Asserts the response conforms to the spec (body and rate-limit headers). */
export function assertConforms(method: string, path: string, res: ApiResponse): void {
  const v = specValidator();
  // Outside the reduced spec (e.g. the /v2/actions list) only error bodies have a schema.
  const inSpec = v.operationFor(method, path) !== undefined;
  const errors = inSpec ? v.validateResponse(method, path, res.status, res.body, res.headers)
    : res.status >= 400 ? v.validateSchema('error', res.body) : [];
  assert.deepEqual(errors, [], `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  for (const h of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) {
    assert.match(res.headers.get(h) ?? '', /^\d+$/, `${method} ${path}: header ${h}`);
  }
}

export type Api = (method: string, path: string, body?: unknown) => Promise<ApiResponse>;

/** An API caller with a bearer token (null: none), validating every response. */
export function apiClient(url: string, token: string | null = 'test-token', onResponse?: (method: string, path: string, res: ApiResponse) => void): Api {
  return async (method, path, body) => {
    const res = await call(url, method, path, body, token === null ? {} : { authorization: `Bearer ${token}` });
    assertConforms(method, path, res);
    onResponse?.(method, path, res);
    return res;
  };
}

/** The admin API: answers JSON, asserts a 2xx unless `expect` says otherwise. */
export function adminClient(url: string) {
  return async (method: string, path: string, body?: unknown, expect?: number): Promise<ApiResponse> => {
    const res = await call(url, method, `/_emulator${path}`, body, {});
    if (expect === undefined) assert.ok(res.status >= 200 && res.status < 300, `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    else assert.equal(res.status, expect, JSON.stringify(res.body));
    return res;
  };
}

/**
 * One emulator for a whole test file, on a manual clock, reset to the default world before
 * every test. Call at module level; the fields are filled in by the `before` hook.
 */
export function emulatorPerFile(opts: { actionDelayMs: number }): {
  readonly clock: FakeClock;
  readonly url: string;
  readonly api: Api;
  readonly admin: ReturnType<typeof adminClient>;
} {
  const clock = createFakeClock();
  let emu: RunningEmulator | undefined;
  let api: Api | undefined;
  let admin: ReturnType<typeof adminClient> | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the emulator starts in the before hook');
    return value;
  };
  before(async () => {
    emu = await startEmulator({ clock, actionDelayMs: opts.actionDelayMs });
    api = apiClient(emu.url);
    admin = adminClient(emu.url);
  });
  after(() => emu?.close());
  beforeEach(() => started(admin)('POST', '/reset'));
  return {
    clock,
    get url() {
      return started(emu).url;
    },
    api: (method, path, body) => started(api)(method, path, body),
    admin: (method, path, body, expect) => started(admin)(method, path, body, expect),
  };
}

/** Poll `fn` (every 10 ms) until it returns a value other than undefined; fail naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
