import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReconcilerMetrics } from './metrics.ts';
import { startHttpServer } from './server.ts';

async function get(url: string, method = 'GET') {
  const res = await fetch(url, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

test('healthz, readyz following the readiness check, metrics, 404 and 405', async () => {
  let ready = false;
  const metrics = createReconcilerMetrics();
  metrics.informerRestarts.inc({ resource: 'nodes' });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, endpoints: { ready: () => ready, registry: metrics.registry } });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await get(`${server.url}/healthz`), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
    assert.deepEqual(await get(`${server.url}/readyz`), { status: 503, type: 'text/plain; charset=utf-8', body: 'informer caches not synced\n' });
    ready = true;
    assert.deepEqual(await get(`${server.url}/readyz?verbose`), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
    const scraped = await get(`${server.url}/metrics`);
    assert.equal(scraped.status, 200);
    assert.equal(scraped.type, metrics.registry.contentType);
    assert.ok(scraped.body.includes('floatip_informer_restarts_total{resource="nodes"} 1\n'), scraped.body);
    assert.deepEqual(await get(`${server.url}/other`), { status: 404, type: 'text/plain; charset=utf-8', body: 'not found\n' });
    assert.deepEqual(await get(`${server.url}/healthz`, 'POST'), { status: 405, type: 'text/plain; charset=utf-8', body: 'method not allowed\n' });
  } finally {
    await server.close();
  }
});

test('split ports: the health server has no /metrics and the metrics server no probes', async () => {
  const metrics = createReconcilerMetrics();
  const health = await startHttpServer({ host: '127.0.0.1', port: 0, endpoints: { ready: () => true } });
  const scrape = await startHttpServer({ host: '127.0.0.1', port: 0, endpoints: { registry: metrics.registry } });
  try {
    assert.equal((await get(`${health.url}/metrics`)).status, 404);
    assert.equal((await get(`${scrape.url}/healthz`)).status, 404);
    assert.equal((await get(`${scrape.url}/metrics`)).status, 200);
  } finally {
    await health.close();
    await scrape.close();
  }
});

test('a port in use is an error, not a silent success', async () => {
  const first = await startHttpServer({ host: '127.0.0.1', port: 0, endpoints: {} });
  try {
    await assert.rejects(startHttpServer({ host: '127.0.0.1', port: first.port, endpoints: {} }), { code: 'EADDRINUSE' });
  } finally {
    await first.close();
  }
});
