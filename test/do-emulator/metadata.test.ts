// The droplet metadata service under /_metadata/<dropletId>: plain-text answers as DigitalOcean
// documents them (anchor IP, droplet id, floating IP status), no token, no rate budget,
// faults and the request log like the API.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoggedRequest } from './admin-routes.ts';
import { emulatorPerFile } from './testing.ts';

const emu = emulatorPerFile({ actionDelayMs: 300 });
const { clock, api, admin } = emu;

const meta = async (dropletId: number, path: string, init?: RequestInit) => {
  const res = await fetch(`${emu.url}/_metadata/${dropletId}/metadata/v1/${path}`, init);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

describe('anchor IP and droplet facts', () => {
  test('the default world gives droplets 1001-1003 the anchors 10.20.0.11-13, plain text, no token', async () => {
    for (const [id, anchor] of [[1001, '10.20.0.11'], [1002, '10.20.0.12'], [1003, '10.20.0.13']] as const) {
      assert.deepEqual(await meta(id, 'interfaces/public/0/anchor_ipv4/address'), { status: 200, type: 'text/plain; charset=utf-8', text: anchor });
    }
    assert.equal((await meta(1002, 'interfaces/public/0/anchor_ipv4/netmask')).text, '255.255.0.0');
    assert.equal((await meta(1002, 'interfaces/public/0/anchor_ipv4/gateway')).text, '10.20.0.1');
    assert.equal((await meta(1002, 'interfaces/public/0/anchor_ipv4')).text, 'address\nnetmask\ngateway');
    assert.equal((await meta(1003, 'id')).text, '1003');
    assert.equal((await meta(1003, 'hostname')).text, 'pool-a-3');
    assert.equal((await meta(1003, 'interfaces/public/0/ipv4/address')).text, '159.203.3.235');
  });

  test('a seed anchor, a derived anchor, and none (custom image): 404 for the anchor paths', async () => {
    await admin('POST', '/reset', { droplets: [{ id: 7, name: 'a', anchorIpv4: '10.17.0.160' }, { id: 8, name: 'b' }, { id: 9, name: 'custom', anchorIpv4: null }] });
    assert.equal((await meta(7, 'interfaces/public/0/anchor_ipv4/address')).text, '10.17.0.160');
    assert.equal((await meta(7, 'interfaces/public/0/anchor_ipv4/gateway')).text, '10.17.0.1');
    assert.equal((await meta(8, 'interfaces/public/0/anchor_ipv4/address')).text, '10.20.0.8');
    for (const path of ['interfaces/public/0/anchor_ipv4/address', 'interfaces/public/0/anchor_ipv4/netmask', 'interfaces/public/0/anchor_ipv4']) {
      assert.deepEqual(await meta(9, path), { status: 404, type: 'text/plain; charset=utf-8', text: 'not found' });
    }
    assert.equal((await meta(9, 'id')).text, '9');
    await admin('POST', '/reset', { droplets: [{ id: 7, name: 'a', anchorIpv4: 'nope' }] }, 400);
  });

  test('unknown droplet or path: 404 text/plain; a write: 405', async () => {
    assert.deepEqual(await meta(4242, 'id'), { status: 404, type: 'text/plain; charset=utf-8', text: 'not found' });
    assert.equal((await meta(1001, 'interfaces/public/9/anchor_ipv4/address')).status, 404);
    assert.equal((await fetch(`${emu.url}/_metadata/1001/other/id`)).status, 404);
    assert.equal((await meta(1001, 'id', { method: 'POST' })).status, 405);
  });
});

describe('floating IP status', () => {
  test('active is false until an action completes, then true with the address; IPv6 does not count', async () => {
    const active = async () => (await meta(1001, 'floating_ip/ipv4/active')).text;
    assert.equal(await active(), 'false');
    assert.equal((await meta(1001, 'floating_ip/ipv4/ip_address')).status, 404);
    assert.equal((await api('POST', '/v2/reserved_ipv6/2604:a880:800:14::1000/actions', { type: 'assign', droplet_id: 1001 })).status, 201);
    clock.tick(300);
    assert.equal(await active(), 'false', 'a reserved IPv6 is not a floating IPv4');
    assert.equal((await api('POST', '/v2/reserved_ips/104.248.100.100/actions', { type: 'assign', droplet_id: 1001 })).status, 201);
    assert.equal(await active(), 'false', 'the action is still in progress');
    clock.tick(300);
    assert.equal(await active(), 'true');
    assert.deepEqual(await meta(1001, 'floating_ip/ipv4/ip_address'), { status: 200, type: 'text/plain; charset=utf-8', text: '104.248.100.100' });
    assert.equal((await meta(1001, 'floating_ip/ipv4')).text, 'active\nip_address');
    assert.equal((await meta(1002, 'floating_ip/ipv4/active')).text, 'false');
  });
});

describe('around the answers', () => {
  test('no rate budget, but logged; a fault makes metadata unreachable', async () => {
    await admin('PUT', '/ratelimit', { perMinute: 0 });
    assert.equal((await meta(1001, 'id')).status, 200);
    await admin('POST', '/faults', { path: '^/_metadata/1001/', status: 503, count: 1 });
    assert.deepEqual(await meta(1001, 'id'), { status: 503, type: 'text/plain; charset=utf-8', text: 'injected fault 1' });
    await admin('POST', '/faults', { path: '^/_metadata/', reset: true });
    await assert.rejects(meta(1002, 'id'), TypeError);
    assert.equal((await meta(1002, 'id')).text, '1002');
    const log = (await admin('GET', '/requests')).body as LoggedRequest[];
    assert.deepEqual(log.map((r) => [r.path, r.status]), [
      ['/_metadata/1001/metadata/v1/id', 200],
      ['/_metadata/1001/metadata/v1/id', 503],
      ['/_metadata/1002/metadata/v1/id', 0],
      ['/_metadata/1002/metadata/v1/id', 200],
    ]);
  });
});
