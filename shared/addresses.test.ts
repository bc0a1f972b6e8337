// The annotation grammar, as a table: every input with its exact outcome (canonical
// addresses or the exact sentence a user reads in the admission denial).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { parseAddress, parseAddressList } from './addresses.ts';

const ANY = '(expected e.g. 104.248.100.100 or 2604:a880:800:14::1)';
const V4 = '(expected e.g. 104.248.100.100)';
const V6 = '(expected e.g. 2604:a880:800:14::1)';
const LIST = '(expected e.g. 104.248.100.100, 2604:a880:800:14::1)';
const NEVER = 'and can never be a DigitalOcean reserved IP (expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1)';
const notIp = (q: string) => `${JSON.stringify(q)} is not an IPv4 or IPv6 address ${ANY}`;

// [annotation value, canonical addresses | exact reason]
const table: ReadonlyArray<readonly [string, readonly string[] | string]> = [
  // valid IPv4
  ['104.248.100.100', ['104.248.100.100']],
  ['  104.248.100.100  ', ['104.248.100.100']],
  ['\t104.248.100.100\n', ['104.248.100.100']],
  ['1.0.0.1', ['1.0.0.1']],
  ['223.255.255.254', ['223.255.255.254']],
  ['8.8.0.0', ['8.8.0.0']],
  ['100.63.255.255', ['100.63.255.255']],
  ['100.128.0.1', ['100.128.0.1']],
  ['172.15.255.255', ['172.15.255.255']],
  ['172.32.0.1', ['172.32.0.1']],
  ['198.17.255.255', ['198.17.255.255']],
  ['198.20.0.1', ['198.20.0.1']],
  ['192.0.3.1', ['192.0.3.1']],
  // valid IPv6 in every RFC 4291 text form, canonicalised per RFC 5952
  ['2604:a880:800:14::1', ['2604:a880:800:14::1']],
  ['2604:A880:0800:0014:0000:0000:0000:0001', ['2604:a880:800:14::1']],
  ['2604:a880:800:14:0:0:0:1', ['2604:a880:800:14::1']],
  ['2604:a880:800:14:0::1', ['2604:a880:800:14::1']],
  ['2604:a880::14:0:0:0:1', ['2604:a880:0:14::1']],
  ['2604:a880:800:14:1:2:3:4', ['2604:a880:800:14:1:2:3:4']],
  ['2604:a880:0:0:1:0:0:1', ['2604:a880::1:0:0:1']],
  ['2604:a880:800:0:0:14:0:0', ['2604:a880:800::14:0:0']],
  ['2604:a880:800:14:1:0:2:3', ['2604:a880:800:14:1:0:2:3']],
  ['2604:a880:800:14:1:2:3::', ['2604:a880:800:14:1:2:3:0']],
  ['2604::', ['2604::']],
  ['2604:a880:800:14::104.248.100.100', ['2604:a880:800:14::68f8:6464']],
  ['2604:a880:800:14:0:0:1.2.3.4', ['2604:a880:800:14::102:304']],
  ['3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', ['3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  // lists
  ['104.248.100.100,104.248.100.101', ['104.248.100.100', '104.248.100.101']],
  ['104.248.100.100 , 2604:a880:800:14::1', ['104.248.100.100', '2604:a880:800:14::1']],
  ['2604:a880:800:14::1000,  104.248.100.102 ,104.248.100.101', ['2604:a880:800:14::1000', '104.248.100.102', '104.248.100.101']],
  // empty values and entries
  ['', `the value is empty ${ANY}`],
  ['   ', `the value is empty ${ANY}`],
  [',', `"," has an empty entry at position 1; remove the stray comma ${LIST}`],
  ['104.248.100.100,', `"104.248.100.100," has an empty entry at position 2; remove the stray comma ${LIST}`],
  ['104.248.100.100, ,104.248.100.101', `"104.248.100.100, ,104.248.100.101" has an empty entry at position 2; remove the stray comma ${LIST}`],
  // IPv4 syntax
  ['104.248.100', notIp('104.248.100')],
  ['104.248.100.100.', notIp('104.248.100.100.')],
  ['.104.248.100.100', notIp('.104.248.100.100')],
  ['104.248.100.100.1', notIp('104.248.100.100.1')],
  ['104.248..100', notIp('104.248..100')],
  ['104.248.100.256', `"104.248.100.256" has an octet above 255 ${V4}`],
  ['104.248.100.1000', `"104.248.100.1000" has an octet above 255 ${V4}`],
  ['104.248.100.010', `"104.248.100.010" has an octet with a leading zero, which some tools read as octal ${V4}`],
  ['104.248.100.00', `"104.248.100.00" has an octet with a leading zero, which some tools read as octal ${V4}`],
  ['0x68.248.100.100', notIp('0x68.248.100.100')],
  ['1755800676', notIp('1755800676')],
  ['+104.248.100.100', notIp('+104.248.100.100')],
  ['104.248.100.100/32', `"104.248.100.100/32" is a prefix, not a single address (expected e.g. 104.248.100.100)`],
  ['104.248.100.100:80', notIp('104.248.100.100:80')],
  ['104.248.100.100 104.248.100.101', `"104.248.100.100 104.248.100.101" contains whitespace inside an entry; separate addresses with commas ${LIST}`],
  ['104.248.100.100;104.248.100.101', notIp('104.248.100.100;104.248.100.101')],
  ['104.248.100.１00', notIp('104.248.100.１00')],
  ['my-ip.example.com', notIp('my-ip.example.com')],
  // IPv6 syntax
  ['2604:a880:800:14::1%eth0', `"2604:a880:800:14::1%eth0" has a zone id ("%eth0"), which a reserved IP never has ${V6}`],
  ['[2604:a880:800:14::1]', `"[2604:a880:800:14::1]" is written in brackets; the annotation takes a bare address (write 2604:a880:800:14::1 without brackets)`],
  ['[2604:a880:800:14::1]:443', `"[2604:a880:800:14::1]:443" is written in brackets with a port; the annotation takes a bare address (write 2604:a880:800:14::1 without brackets)`],
  ['[2604:a880:800:14::1', notIp('[2604:a880:800:14::1')],
  ['2604:a880:800:14::/64', `"2604:a880:800:14::/64" is a prefix, not a single address (expected e.g. 2604:a880:800:14::)`],
  ['2604:a880:800:14::1::2', notIp('2604:a880:800:14::1::2')],
  ['2604:a880:800:14:::1', notIp('2604:a880:800:14:::1')],
  ['2604:a880:800:14:0:0:0:0:1', notIp('2604:a880:800:14:0:0:0:0:1')],
  ['2604:a880:800:14:0:0:1', notIp('2604:a880:800:14:0:0:1')],
  ['2604:a880:800:14::00001', notIp('2604:a880:800:14::00001')],
  ['2604:a880:800:14::g', notIp('2604:a880:800:14::g')],
  [':2604:a880:800:14::1', notIp(':2604:a880:800:14::1')],
  ['2604:a880:800:14::1:', notIp('2604:a880:800:14::1:')],
  ['2604:a880:800:14::1.2.3', notIp('2604:a880:800:14::1.2.3')],
  ['2604:a880:800:14::1.2.3.04', notIp('2604:a880:800:14::1.2.3.04')],
  ['2604:a880:800:14::1.2.3.4:5', notIp('2604:a880:800:14::1.2.3.4:5')],
  ['2604:a880:800:14:1:2:3:4:1.2.3.4', notIp('2604:a880:800:14:1:2:3:4:1.2.3.4')],
  // IPv4 addresses that are never reserved IPs
  ['10.20.0.5', `"10.20.0.5" is in DigitalOcean's anchor range 10.20.0.0/16: anchor IPs belong in a Service's externalIPs, not in this annotation (expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1)`],
  ['10.20.255.255', `"10.20.255.255" is in DigitalOcean's anchor range 10.20.0.0/16: anchor IPs belong in a Service's externalIPs, not in this annotation (expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1)`],
  ['10.21.0.5', `"10.21.0.5" is a private address (10.0.0.0/8) ${NEVER}`],
  ['172.16.0.1', `"172.16.0.1" is a private address (172.16.0.0/12) ${NEVER}`],
  ['172.31.255.255', `"172.31.255.255" is a private address (172.16.0.0/12) ${NEVER}`],
  ['192.168.1.10', `"192.168.1.10" is a private address (192.168.0.0/16) ${NEVER}`],
  ['100.64.0.1', `"100.64.0.1" is a carrier-grade NAT (shared) address (100.64.0.0/10) ${NEVER}`],
  ['100.127.255.255', `"100.127.255.255" is a carrier-grade NAT (shared) address (100.64.0.0/10) ${NEVER}`],
  ['127.0.0.1', `"127.0.0.1" is a loopback address (127.0.0.0/8) ${NEVER}`],
  ['169.254.169.254', `"169.254.169.254" is a link-local address (169.254.0.0/16) ${NEVER}`],
  ['224.0.0.251', `"224.0.0.251" is a multicast address (224.0.0.0/4) ${NEVER}`],
  ['0.0.0.0', `"0.0.0.0" is the unspecified address ${NEVER}`],
  ['0.1.2.3', `"0.1.2.3" is a "this network" address (0.0.0.0/8) ${NEVER}`],
  ['255.255.255.255', `"255.255.255.255" is the broadcast address ${NEVER}`],
  ['240.0.0.1', `"240.0.0.1" is a reserved address (240.0.0.0/4) ${NEVER}`],
  ['192.0.0.9', `"192.0.0.9" is an IETF protocol assignment address (192.0.0.0/24) ${NEVER}`],
  ['192.0.2.1', `"192.0.2.1" is a documentation address (192.0.2.0/24) ${NEVER}`],
  ['198.51.100.7', `"198.51.100.7" is a documentation address (198.51.100.0/24) ${NEVER}`],
  ['203.0.113.9', `"203.0.113.9" is a documentation address (203.0.113.0/24) ${NEVER}`],
  ['198.18.0.1', `"198.18.0.1" is a benchmarking address (198.18.0.0/15) ${NEVER}`],
  ['198.19.255.255', `"198.19.255.255" is a benchmarking address (198.18.0.0/15) ${NEVER}`],
  // IPv6 addresses that are never reserved IPs (named as written, with the canonical form)
  ['::', `"::" is the unspecified address ${NEVER}`],
  ['::1', `"::1" is the loopback address ${NEVER}`],
  ['0:0:0:0:0:0:0:1', `"0:0:0:0:0:0:0:1" (::1) is the loopback address ${NEVER}`],
  ['::ffff:104.248.100.100', `"::ffff:104.248.100.100" is an IPv4-mapped address (::ffff:0:0/96) ${NEVER}`],
  ['::FFFF:6818:6464', `"::FFFF:6818:6464" (::ffff:104.24.100.100) is an IPv4-mapped address (::ffff:0:0/96) ${NEVER}`],
  ['2001:db8::1', `"2001:db8::1" is a documentation address (2001:db8::/32) ${NEVER}`],
  ['2001:0DB8:ffff::1', `"2001:0DB8:ffff::1" (2001:db8:ffff::1) is a documentation address (2001:db8::/32) ${NEVER}`],
  ['fd00::1', `"fd00::1" is a unique local (private) address (fc00::/7) ${NEVER}`],
  ['fc12:3456::1', `"fc12:3456::1" is a unique local (private) address (fc00::/7) ${NEVER}`],
  ['fe80::1', `"fe80::1" is a link-local address (fe80::/10) ${NEVER}`],
  ['febf::1', `"febf::1" is a link-local address (fe80::/10) ${NEVER}`],
  ['ff02::1', `"ff02::1" is a multicast address (ff00::/8) ${NEVER}`],
  ['::104.248.100.100', `"::104.248.100.100" (::68f8:6464) is not a global unicast address (outside 2000::/3) ${NEVER}`],
  ['4000::1', `"4000::1" is not a global unicast address (outside 2000::/3) ${NEVER}`],
  // duplicates, also when written two ways
  ['104.248.100.100,104.248.100.100', `"104.248.100.100" is listed twice; list each reserved IP once ${LIST}`],
  ['2604:a880:800:14::1, 2604:A880:800:14:0:0:0:1', `"2604:A880:800:14:0:0:0:1" is listed twice (same address as "2604:a880:800:14::1"); list each reserved IP once ${LIST}`],
  // the first problem in the list is the one reported
  ['104.248.100.100, 10.0.0.1, 104.248.100', `"10.0.0.1" is a private address (10.0.0.0/8) ${NEVER}`],
  // control characters are escaped and long entries cut, so a denial stays one readable line
  ['104.248.100.100\u0000', notIp('104.248.100.100\u0000')],
  ['1'.repeat(100), `"${'1'.repeat(61)}..." is not an IPv4 or IPv6 address ${ANY}`],
];

test('the table has at least 60 annotation values', () => {
  assert.ok(table.length >= 60, `only ${table.length}`);
});

for (const [input, expected] of table) {
  test(`parseAddressList(${JSON.stringify(input)})`, () => {
    const result = parseAddressList(input);
    if (typeof expected === 'string') {
      assert.deepEqual(result, { ok: false, reason: expected });
    } else {
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.deepEqual(
        result.addresses.map((a) => a.text),
        expected,
      );
      assert.deepEqual(
        result.addresses.map((a) => a.family),
        expected.map((e) => (e.includes(':') ? 6 : 4)),
      );
    }
  });
}

test('parseAddress canonicalises without policy checks and returns null for non-addresses', () => {
  assert.deepEqual(parseAddress('10.0.0.1'), { text: '10.0.0.1', family: 4 });
  assert.deepEqual(parseAddress('::FFFF:1.2.3.4'), { text: '::ffff:1.2.3.4', family: 6 });
  assert.deepEqual(parseAddress('0:0:0:0:0:0:0:0'), { text: '::', family: 6 });
  assert.deepEqual(parseAddress('1:0:0:2:0:0:0:3'), { text: '1:0:0:2::3', family: 6 });
  assert.deepEqual(parseAddress('1:0:0:2:0:0:3:4'), { text: '1::2:0:0:3:4', family: 6 });
  assert.deepEqual(parseAddress('1:2:3:4:5:6:7::'), { text: '1:2:3:4:5:6:7:0', family: 6 });
  assert.equal(parseAddress(' 104.248.100.100'), null);
  assert.equal(parseAddress('fe80::1%eth0'), null);
  assert.equal(Object.isFrozen(parseAddress('1.2.3.4')), true);
});

test('cross-check: every valid entry in the table is an IP for node:net and canonical like WHATWG URL', () => {
  for (const [, expected] of table) {
    if (typeof expected === 'string') continue;
    for (const text of expected) {
      assert.equal(isIP(text), text.includes(':') ? 6 : 4, text);
      const host = new URL(`http://${text.includes(':') ? `[${text}]` : text}/`).hostname;
      assert.equal(host, text.includes(':') ? `[${text}]` : text);
    }
  }
});

test('cross-check: node:net agrees on which strings are addresses (it also takes zone ids, we do not)', () => {
  for (const [input] of table) {
    for (const entry of input.split(',').map((e) => e.trim())) {
      if (entry.includes('%')) continue;
      const ours = parseAddress(entry);
      assert.equal(ours === null ? 0 : ours.family, isIP(entry), entry);
    }
  }
});
