// What goes on the wire, seen by a bare loopback HTTP server: base URL + /v2, the headers,
// the User-Agent version. (Behaviour against DigitalOcean's rules is in client.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { realSleep } from './abort.ts';
import { createDoClient, defaultUserAgent, userAgent } from './client.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('requests go to <baseUrl>/v2 (given with or without /v2) with bearer token, JSON and the floatip User-Agent', async () => {
  const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'ratelimit-remaining': '4321' });
      res.end(JSON.stringify(req.method === 'POST' ? { action: { id: 7, status: 'completed' } } : { account: { uuid: 'u-1', email: 'sammy@example.com', status: 'active' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = createDoClient({ token: 'tok', baseUrl: `http://127.0.0.1:${port}/v2/` });
    assert.deepEqual(await client.getAccount(), { uuid: 'u-1', email: 'sammy@example.com', status: 'active' });
    assert.deepEqual(await client.assign('2604:A880:800:14:0::1000', 1001), { actionId: 7, status: 'completed', dropletId: 1001 });
    assert.deepEqual(
      seen.map((s) => [s.method, s.url, s.body]),
      [
        ['GET', '/v2/account', ''],
        ['POST', '/v2/reserved_ipv6/2604:a880:800:14::1000/actions', '{"type":"assign","droplet_id":1001}'],
      ],
    );
    for (const s of seen) {
      assert.equal(s.headers.authorization, 'Bearer tok');
      assert.equal(s.headers['user-agent'], `floatip/${pkg.version}`);
      assert.equal(s.headers.accept, 'application/json');
    }
    assert.equal(seen[1]?.headers['content-type'], 'application/json');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('the default User-Agent carries the package version', () => {
  assert.equal(defaultUserAgent(), `floatip/${pkg.version}`);
});

test('userAgent(component, identity) names the replica; characters HTTP forbids in a token become _', () => {
  const v = pkg.version;
  assert.equal(userAgent('reconciler', 'floatip-reconciler-7d9f-abc123'), `floatip/${v} reconciler/floatip-reconciler-7d9f-abc123`);
  assert.equal(userAgent('agent'), `floatip/${v} agent`);
  assert.equal(userAgent('reconciler', 'ns/pod name'), `floatip/${v} reconciler/ns_pod_name`);
  assert.equal(userAgent('', ''), `floatip/${v} _/_`);
  assert.equal(userAgent('r', 'x'.repeat(500)).length, `floatip/${v} r/`.length + 128);
});

test('the real sleep waits, and ends at once (resolving) when its signal aborts', async () => {
  const started = performance.now();
  await realSleep(30);
  assert.ok(performance.now() - started >= 25);
  const controller = new AbortController();
  const long = realSleep(60_000, controller.signal);
  controller.abort();
  await long;
});
