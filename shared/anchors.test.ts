import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAnchor, parseAnchorRange } from './anchors.ts';

test('checkAnchor: only IPv4 addresses inside the anchor range, table', () => {
  const custom = parseAnchorRange('10.30.0.0/16');
  const rows: [string, string, ReturnType<typeof parseAnchorRange> | undefined, string][] = [
    ['an anchor', '10.20.0.13', undefined, 'ok 10.20.0.13'],
    ['surrounding spaces are trimmed', ' 10.20.255.1 ', undefined, 'ok 10.20.255.1'],
    ['a public address', '8.8.8.8', undefined, 'no "8.8.8.8" is not in the droplet anchor range 10.20.0.0/16'],
    ['loopback', '127.0.0.1', undefined, 'no "127.0.0.1" is not in the droplet anchor range 10.20.0.0/16'],
    ['next to the range', '10.21.0.1', undefined, 'no "10.21.0.1" is not in the droplet anchor range 10.20.0.0/16'],
    ['a reserved IP', '104.248.100.100', undefined, 'no "104.248.100.100" is not in the droplet anchor range 10.20.0.0/16'],
    ['IPv6', '::1', undefined, 'no "::1" is not an IPv4 address'],
    ['garbage', 'hello', undefined, 'no "hello" is not an IPv4 address'],
    ['a CIDR', '10.20.0.0/16', undefined, 'no "10.20.0.0/16" is not an IPv4 address'],
    ['another range by flag', '10.30.1.2', custom, 'ok 10.30.1.2'],
    ['the default range is not the flag range', '10.20.0.13', custom, 'no "10.20.0.13" is not in the droplet anchor range 10.30.0.0/16'],
  ];
  for (const [name, value, range, want] of rows) {
    const r = checkAnchor(value, range);
    assert.equal(r.ok ? `ok ${r.anchor}` : `no ${r.why}`, want, name);
  }
});

test('parseAnchorRange: an IPv4 CIDR /8../32, else an error naming the flag', () => {
  assert.equal(parseAnchorRange('10.20.0.0/16').cidr, '10.20.0.0/16');
  assert.equal(parseAnchorRange('10.20.0.7/32').contains('10.20.0.7'), true);
  for (const bad of ['10.20.0.0', '10.20.0.0/7', '10.20.0.0/33', '::/0', '10.20.0.0/16/1', 'x/16', '']) {
    assert.throws(() => parseAnchorRange(bad), /^Error: --anchor-range ".*" is not an IPv4 CIDR with a prefix of \/8 to \/32 \(default 10\.20\.0\.0\/16\)$/, bad);
  }
});
