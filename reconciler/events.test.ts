import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { createLogger } from '../shared/logger.ts';
import { createKubernetesEventSink } from './events.ts';
import type { EventsApi } from './events.ts';

const pod: V1Pod = { metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '7' } };

function fakeApi(failCreate = false) {
  const created: CoreV1Event[] = [];
  const patched: { name: string; namespace: string; body: unknown }[] = [];
  const api = {
    createNamespacedEvent: async (p: { namespace: string; body: CoreV1Event }) => {
      if (failCreate) throw new Error('forbidden');
      created.push(p.body);
      return p.body;
    },
    patchNamespacedEvent: async (p: { name: string; namespace: string; body: unknown }) => {
      patched.push(p);
      return {} as CoreV1Event;
    },
  } as unknown as EventsApi;
  return { api, created, patched };
}

function logLines() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

test('events: a core/v1 Event names the pod by uid and the reconciler as source', async () => {
  const { api, created } = fakeApi();
  let t = Date.UTC(2026, 0, 1);
  const sink = createKubernetesEventSink({ api, logger: logLines().logger, instance: 'floatip-reconciler-abc', now: () => t });
  await sink.record({ pod, type: 'Normal', reason: 'FloatingIPAssigned', message: 'm' });
  t += 1;
  assert.equal(created.length, 1);
  const e = created[0];
  assert.deepEqual(e?.involvedObject, { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'u-1', resourceVersion: '7' });
  assert.equal(e?.metadata?.namespace, 'shop');
  assert.match(e?.metadata?.name ?? '', /^web-1\.[0-9a-f]+$/);
  assert.deepEqual([e?.type, e?.reason, e?.message, e?.count], ['Normal', 'FloatingIPAssigned', 'm', 1]);
  assert.deepEqual(e?.source, { component: 'floatip-reconciler' });
  assert.equal(e?.reportingComponent, 'floatip-reconciler');
  assert.equal(e?.reportingInstance, 'floatip-reconciler-abc');
  assert.equal(e?.firstTimestamp?.toISOString(), '2026-01-01T00:00:00.000Z');
});

test('events: identical events within the window bump the count instead of piling up', async () => {
  const { api, created, patched } = fakeApi();
  let t = 0;
  const sink = createKubernetesEventSink({ api, logger: logLines().logger, aggregateWindowMs: 1000, now: () => t });
  const e = { pod, type: 'Warning' as const, reason: 'FloatingIPUnplaced', message: 'no eligible pod' };
  await sink.record(e);
  t = 500;
  await sink.record(e);
  t = 900;
  await sink.record(e);
  await sink.record({ ...e, message: 'other' });
  assert.equal(created.length, 2);
  assert.deepEqual(
    patched.map((p) => [p.name, p.namespace, p.body]),
    [
      [created[0]?.metadata?.name, 'shop', { count: 2, lastTimestamp: '1970-01-01T00:00:00.500Z' }],
      [created[0]?.metadata?.name, 'shop', { count: 3, lastTimestamp: '1970-01-01T00:00:00.900Z' }],
    ],
  );
  t = 2000;
  await sink.record(e);
  assert.equal(created.length, 3);
});

test('events: a failing API is logged, never thrown', async () => {
  const { api } = fakeApi(true);
  const { logger, lines } = logLines();
  const sink = createKubernetesEventSink({ api, logger });
  await sink.record({ pod, type: 'Warning', reason: 'FloatingIPConflict', message: 'x' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.msg, 'could not record Kubernetes Event');
  assert.equal(lines[0]?.reason, 'FloatingIPConflict');
});
