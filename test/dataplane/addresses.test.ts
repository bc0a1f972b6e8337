import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeConfigYaml } from '../cluster/kubeconfig.ts';
import { internalIpOf, publicIpv4Of, publicIpv6Of } from './addresses.ts';
import { socatArgs } from './bridges.ts';
import { withServer } from './droplet.ts';

test('address plan: public addresses in 198.18.0.0/15 apart from the edge, VPC addresses in 10.116.0.0/20', () => {
  const cases: [number, string, string, string][] = [
    [1001, '198.19.3.233', '2001:db8:1::3e9', '10.116.3.233'],
    [1, '198.19.0.1', '2001:db8:1::1', '10.116.0.1'],
    [4095, '198.19.15.255', '2001:db8:1::fff', '10.116.15.255'],
  ];
  for (const [id, v4, v6, vpc] of cases) {
    assert.equal(publicIpv4Of(id), v4);
    assert.equal(publicIpv6Of(id), v6);
    assert.equal(internalIpOf(id), vpc);
  }
});

test('withServer points every cluster of a kubeconfig at the bridge; socat listens on the namespace side only', () => {
  const yaml = kubeConfigYaml('https://127.0.0.1:41234', 'CA', { token: 't0k' });
  const rewritten = withServer(yaml, 'https://127.0.0.1:6443');
  assert.match(rewritten, /server: https:\/\/127\.0\.0\.1:6443/);
  assert.doesNotMatch(rewritten, /41234/);
  assert.match(rewritten, /token: t0k/);
  assert.deepEqual(socatArgs('169.254.169.254', 80, '/tmp/x.sock'), ['TCP-LISTEN:80,bind=169.254.169.254,fork,reuseaddr', 'UNIX-CONNECT:/tmp/x.sock']);
});
