// The metadata reader against a real HTTP server on loopback: every answer the agent may get
// and the sentence it turns into.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { MetadataError, readAnchorIpv4 } from './metadata.ts';

type Handler = (res: ServerResponse) => void;
const handlers = new Map<string, Handler[]>();
const seen: string[] = [];
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const prefix = (req.url ?? '').split('/metadata/')[0] ?? '';
    const queue = handlers.get(prefix) ?? [];
    const handler = queue.length > 1 ? queue.shift() : queue[0];
    if (handler) handler(res);
    else res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const text = (status: number, body: string): Handler => (res) => res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
const sleeps: number[] = [];
const sleep = async (ms: number) => void sleeps.push(ms);

async function problem(prefix: string, timeoutMs = 1000): Promise<MetadataError> {
  const err = await readAnchorIpv4({ baseUrl: `${base}${prefix}`, timeoutMs, sleep }).then(
    () => assert.fail('expected a MetadataError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MetadataError, String(err));
  return err;
}

test('reads the anchor path under the base URL and returns the trimmed address', async () => {
  handlers.set('/_metadata/1001', [text(200, '10.20.0.11\n')]);
  seen.length = 0;
  assert.equal(await readAnchorIpv4({ baseUrl: `${base}/_metadata/1001`, timeoutMs: 1000 }), '10.20.0.11');
  assert.deepEqual(seen, ['/_metadata/1001/metadata/v1/interfaces/public/0/anchor_ipv4/address']);
});

test('a 5xx is retried (3 tries, 250 ms doubling), then reported as unreachable', async () => {
  handlers.set('/flaky', [text(503, ''), text(503, ''), text(200, '10.20.0.12')]);
  sleeps.length = 0;
  assert.equal(await readAnchorIpv4({ baseUrl: `${base}/flaky`, timeoutMs: 1000, sleep }), '10.20.0.12');
  assert.deepEqual(sleeps, [250, 500]);

  handlers.set('/down', [text(502, '')]);
  sleeps.length = 0;
  const err = await problem('/down');
  assert.equal(err.problem, 'unreachable');
  assert.equal(err.message, `metadata service unreachable at ${base}/down/metadata/v1/interfaces/public/0/anchor_ipv4/address: it answered 502`);
  assert.deepEqual(sleeps, [250, 500]);
});

test('nothing listening: unreachable, with the connection error', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const err = await readAnchorIpv4({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000, sleep }).catch((e: unknown) => e);
  assert.ok(err instanceof MetadataError);
  assert.equal(err.problem, 'unreachable');
  assert.equal(err.message, `metadata service unreachable at http://127.0.0.1:${port}/metadata/v1/interfaces/public/0/anchor_ipv4/address: ECONNREFUSED`);
});

test('no answer within the timeout: unreachable, naming the timeout', async () => {
  handlers.set('/hang', [() => undefined]);
  const err = await problem('/hang', 50);
  assert.equal(err.problem, 'unreachable');
  assert.match(err.message, /anchor_ipv4\/address: no answer within 50 ms$/);
});

test('404: the droplet has no anchor, not retried', async () => {
  handlers.set('/custom-image', [text(404, 'not found')]);
  sleeps.length = 0;
  const err = await problem('/custom-image');
  assert.equal(err.problem, 'no-anchor');
  assert.match(err.message, /answered 404: this droplet has no anchor IPv4 \(droplets from custom images have none/);
  assert.deepEqual(sleeps, []);
});

test('an answer that is not an IPv4 address names it (shortened) and the flag to check', async () => {
  const rows: [string, string][] = [
    ['<html>hello</html>', '"<html>hello</html>"'],
    ['2604:a880:800:14::1', '"2604:a880:800:14::1"'],
    ['x'.repeat(100), `"${'x'.repeat(64)}…"`],
  ];
  for (const [body, shown] of rows) {
    handlers.set('/wrong', [text(200, body)]);
    const err = await problem('/wrong');
    assert.equal(err.problem, 'invalid');
    assert.equal(err.message, `metadata service at ${base}/wrong/metadata/v1/interfaces/public/0/anchor_ipv4/address answered ${shown}, which is not an IPv4 address; is --metadata-url the metadata service?`);
  }
  handlers.set('/redirect', [(res) => res.writeHead(403).end()]);
  assert.match((await problem('/redirect')).message, /answered 403; is --metadata-url the metadata service\?$/);
});
