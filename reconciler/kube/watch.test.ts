// The reconciler's watch with client-node's semantics, over a scripted stream: events split
// across chunks arrive whole, a refused watch ends with its status code (ListWatch lists again
// on 410), silence ends it with a TimeoutError (ListWatch reconnects at once), and done() comes
// once whatever ends it. The real API server: reconciler/informers.e2e.test.ts.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { KubeClient } from '../../shared/kube/client.ts';
import { WatchStatusError, kubeWatch } from './watch.ts';

function scripted(statusCode = 200) {
  const body = new PassThrough();
  const paths: string[] = [];
  const kube: KubeClient = {
    request: () => Promise.reject(new Error('not used')),
    exchange: () => Promise.reject(new Error('not used')),
    stream: (path, signal) => {
      paths.push(path);
      signal.addEventListener('abort', () => body.destroy());
      return Promise.resolve(Object.assign(body, { statusCode, statusMessage: statusCode === 200 ? 'OK' : 'Gone' }) as unknown as IncomingMessage);
    },
    close: () => undefined,
  };
  return { kube, body, paths };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('events split across chunks arrive whole, with the query; the stream ending calls done(null) once', async () => {
  const { kube, body, paths } = scripted();
  const events: [string, unknown][] = [];
  const done: unknown[] = [];
  await kubeWatch(kube).watch('/api/v1/pods', { labelSelector: 'a=b', resourceVersion: '7', fieldSelector: undefined }, (phase, obj) => events.push([phase, obj]), (err) => done.push(err));
  assert.deepEqual(paths, ['/api/v1/pods?watch=true&labelSelector=a%3Db&resourceVersion=7']);
  body.write('{"type":"ADDED","object":{"metadata":{"name":"p1"}}}\n{"type":"MODI');
  body.write('FIED","object":{"metadata":{"name":"p1"}}}\nnot json\n\n');
  body.end('{"type":"DELETED","object":{"metadata":{"name":"p1"}}}\n');
  await tick();
  await tick();
  assert.deepEqual(events.map(([phase]) => phase), ['ADDED', 'MODIFIED', 'DELETED']);
  assert.deepEqual(done, [null]);
});

test('a refused watch ends with its status code, for ListWatch to list again on 410', async () => {
  const { kube } = scripted(410);
  const done: unknown[] = [];
  await kubeWatch(kube).watch('/api/v1/nodes', {}, () => assert.fail('no events'), (err) => done.push(err));
  assert.equal(done.length, 1);
  assert.ok(done[0] instanceof WatchStatusError);
  assert.equal(done[0].statusCode, 410);
});

test('silence longer than the timeout ends the watch with a TimeoutError; each byte restarts the clock', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { kube, body } = scripted();
    const done: unknown[] = [];
    await kubeWatch(kube, 1_000).watch('/api/v1/nodes', {}, () => undefined, (err) => done.push(err));
    mock.timers.tick(900);
    body.write('{"type":"BOOKMARK","object":{}}\n');
    await tick();
    mock.timers.tick(900);
    assert.equal(done.length, 0, 'a byte 900 ms in restarted the 1 s clock');
    mock.timers.tick(100);
    assert.equal(done.length, 1);
    assert.equal((done[0] as Error).name, 'TimeoutError');
    await tick();
    assert.equal(done.length, 1, 'the abort that follows does not call done again');
  } finally {
    mock.timers.reset();
  }
});

test('the caller aborting the controller ends the watch once', async () => {
  const { kube } = scripted();
  const done: unknown[] = [];
  const controller = await kubeWatch(kube).watch('/api/v1/nodes', {}, () => undefined, (err) => done.push(err));
  controller.abort();
  await tick();
  await tick();
  assert.equal(done.length, 1);
});
