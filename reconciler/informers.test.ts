import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import { createLogger } from '../shared/logger.ts';
import { createReconcilerMetrics } from './metrics.ts';
import { createInformers, restartDelayMs } from './informers.ts';
import type { InformerFactory, InformerLike } from './informers.ts';

type Callback = (obj: never) => void;

/** A hand-written informer: the test decides when start() fails and fires events. */
class FakeInformer<T extends KubernetesObject> implements InformerLike<T> {
  readonly callbacks = new Map<string, Callback[]>();
  items: T[] = [];
  starts = 0;
  stops = 0;
  /** outcomes of the next start() calls: 'ok', an error reported through 'error', or thrown */
  script: Array<'ok' | Error | { throws: Error }> = [];

  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  on(verb: string, cb: Callback): void {
    this.callbacks.set(verb, [...(this.callbacks.get(verb) ?? []), cb]);
  }
  emit(verb: string, obj?: unknown): void {
    for (const cb of this.callbacks.get(verb) ?? []) cb(obj as never);
  }
  async start(): Promise<void> {
    this.starts += 1;
    const outcome = this.script.shift() ?? 'ok';
    if (outcome instanceof Error) this.emit('error', outcome);
    else if (outcome !== 'ok') throw outcome.throws;
  }
  async stop(): Promise<void> {
    this.stops += 1;
    this.emit('error', new Error('aborted')); // ListWatch reports the abort of its own watch
  }
  list(): readonly T[] {
    return this.items;
  }
}

const pod = (ns: string, name: string, rv: string): V1Pod => ({ metadata: { namespace: ns, name, resourceVersion: rv } });
const node = (name: string): V1Node => ({ metadata: { name } });

function setup(namespaces: string[] = []) {
  const pods = new Map<string | undefined, FakeInformer<V1Pod>>();
  const nodes = new FakeInformer<V1Node>();
  const factory: InformerFactory = {
    pods: (ns) => {
      const f = new FakeInformer<V1Pod>();
      pods.set(ns, f);
      return f;
    },
    nodes: () => nodes,
  };
  const delays: number[] = [];
  const pendingDelays: Array<() => void> = [];
  const metrics = createReconcilerMetrics();
  const podEvents: Array<[string | undefined, string | undefined]> = [];
  const nodeEvents: Array<[string | undefined, string | undefined]> = [];
  const informers = createInformers({
    factory,
    namespaces,
    onPod: (p, old) => podEvents.push([p?.metadata?.resourceVersion, old?.metadata?.resourceVersion]),
    onNode: (n, old) => nodeEvents.push([n?.metadata?.name, old?.metadata?.name]),
    metrics,
    logger: createLogger({ level: 'silent' }),
    delay: (ms) => {
      delays.push(ms);
      return new Promise<void>((resolve) => pendingDelays.push(resolve));
    },
    random: () => 0.5,
    backoff: { baseMs: 1000, capMs: 8000 },
  });
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  const releaseDelay = async () => {
    pendingDelays.shift()?.();
    await flush();
  };
  const restarts = async (resource: string) =>
    (await metrics.informerRestarts.get()).values.find((v) => v.labels['resource'] === resource)?.value ?? 0;
  return { informers, pods, nodes, delays, releaseDelay, flush, restarts, podEvents, nodeEvents };
}

test('restartDelayMs: equal jitter, doubling, capped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => restartDelayMs(a, 0, 500, 30_000)), [250, 500, 1000, 2000, 4000, 15_000]);
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => restartDelayMs(a, 1, 500, 30_000)), [500, 1000, 2000, 4000, 8000, 30_000]);
});

test('one pod informer for all namespaces, or one per configured namespace', () => {
  assert.deepEqual([...setup().pods.keys()], [undefined]);
  assert.deepEqual([...setup(['web', 'db']).pods.keys()], ['web', 'db']);
});

test('synced only after every informer listed; whenSynced resolves then', async () => {
  const s = setup(['web', 'db']);
  s.pods.get('db')!.script = [new Error('forbidden')];
  let resolved = false;
  void s.informers.whenSynced().then(() => (resolved = true));
  assert.equal(s.informers.synced(), false);
  s.informers.start();
  await s.flush();
  assert.equal(s.informers.synced(), false, 'db pods failed to list');
  assert.equal(resolved, false);
  assert.deepEqual(s.delays, [750]);
  await s.releaseDelay();
  assert.equal(s.informers.synced(), true);
  assert.equal(resolved, true);
  assert.equal(await s.restarts('pods'), 1);
  assert.equal(await s.restarts('nodes'), 0);
});

test('an error while running makes it unsynced until the restart succeeds; backoff grows then resets', async () => {
  const s = setup();
  s.informers.start();
  await s.flush();
  assert.equal(s.informers.synced(), true);
  const nodes = s.nodes;
  nodes.script = [new Error('still down'), new Error('still down'), 'ok'];
  nodes.emit('error', new Error('connection reset'));
  assert.equal(s.informers.synced(), false);
  await s.releaseDelay(); // restart 1 fails
  await s.releaseDelay(); // restart 2 fails
  assert.equal(s.informers.synced(), false);
  await s.releaseDelay(); // restart 3 succeeds
  assert.equal(s.informers.synced(), true);
  assert.deepEqual(s.delays, [750, 1500, 3000]);
  assert.equal(nodes.starts, 4);
  assert.equal(await s.restarts('nodes'), 3);
  nodes.emit('error', new Error('again'));
  assert.deepEqual(s.delays, [750, 1500, 3000, 750], 'a successful start resets the backoff');
});

test('callbacks forward add, update with the previous version, and delete', async () => {
  const s = setup();
  s.informers.start();
  const pods = s.pods.get(undefined)!;
  pods.emit('add', pod('web', 'a', '1'));
  pods.emit('update', pod('web', 'a', '2'));
  pods.emit('update', pod('web', 'b', '7')); // never seen before: no old version
  pods.emit('delete', pod('web', 'a', '3'));
  pods.emit('add', pod('web', 'a', '4')); // recreated under the same name
  assert.deepEqual(s.podEvents, [['1', undefined], ['2', '1'], ['7', undefined], [undefined, '3'], ['4', undefined]]);
  s.nodes.emit('add', node('n1'));
  s.nodes.emit('delete', node('n1'));
  assert.deepEqual(s.nodeEvents, [['n1', undefined], [undefined, 'n1']]);
});

test('the world source reads every cache', async () => {
  const s = setup(['web', 'db']);
  s.pods.get('web')!.items = [pod('web', 'a', '1')];
  s.pods.get('db')!.items = [pod('db', 'b', '1'), pod('db', 'c', '1')];
  s.nodes.items = [node('n1')];
  assert.deepEqual(s.informers.listPods().map((p) => p.metadata?.name), ['a', 'b', 'c']);
  assert.deepEqual(s.informers.listNodes().map((n) => n.metadata?.name), ['n1']);
});

test('stop: no restart for the abort it causes, unsynced, whenSynced released', async () => {
  const s = setup();
  s.informers.start();
  await s.flush();
  await s.informers.stop();
  assert.equal(s.informers.synced(), false);
  assert.deepEqual(s.delays, []);
  assert.equal(s.nodes.stops, 1);
  assert.equal(s.pods.get(undefined)!.stops, 1);
  await s.informers.whenSynced();
});

test('a restart due after stop() does not start the informer again', async () => {
  const s = setup();
  s.informers.start();
  await s.flush();
  s.nodes.emit('error', new Error('boom'));
  await s.informers.stop();
  await s.releaseDelay();
  assert.equal(s.nodes.starts, 1);
  assert.equal(await s.restarts('nodes'), 0);
});

test('a start() that throws is retried like an error event', async () => {
  const s = setup();
  s.nodes.script = [{ throws: new Error('kubeconfig has no cluster') }];
  s.informers.start();
  await s.flush();
  assert.equal(s.informers.synced(), false);
  assert.deepEqual(s.delays, [750]);
  await s.releaseDelay();
  assert.equal(s.informers.synced(), true);
  assert.equal(s.nodes.starts, 2);
});
