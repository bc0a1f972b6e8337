import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOW_ALL, MAX_POLICY_BYTES, notAllowedMessage, notAllowedSummary, parseIpPolicy } from './ip-policy.ts';

const POLICY = `
# which namespaces may claim which reserved IPs
namespaces:
  shop: ["104.248.100.100", "198.51.100.0/28"]
  games: ["2604:a880:800:14::/64"]
`;

test('allows: listed addresses and CIDRs in their namespace only, nothing elsewhere', () => {
  const policy = parseIpPolicy(POLICY);
  for (const [namespace, ip, allowed] of [
    ['shop', '104.248.100.100', true],
    ['shop', '104.248.100.101', false],
    ['shop', '198.51.100.0', true],
    ['shop', '198.51.100.15', true],
    ['shop', '198.51.100.16', false],
    ['shop', '2604:a880:800:14::1', false],
    ['games', '2604:a880:800:14::1', true],
    ['games', '2604:a880:800:15::1', false],
    ['games', '104.248.100.100', false],
    ['other', '104.248.100.100', false],
    ['shop', 'not-an-ip', false],
  ] as const) {
    assert.equal(policy.allows(namespace, ip), allowed, `${namespace} ${ip}`);
  }
  assert.deepEqual(policy.allowedIn('shop'), ['104.248.100.100', '198.51.100.0/28']);
  assert.deepEqual(policy.allowedIn('other'), []);
});

test('"*" is what every namespace not listed may claim; a listed namespace gets only its own list', () => {
  const policy = parseIpPolicy('namespaces:\n  shop: ["104.248.100.100"]\n  "*": ["203.0.113.0/24"]\n');
  assert.equal(policy.allows('anything', '203.0.113.9'), true);
  assert.equal(policy.allows('anything', '104.248.100.100'), false);
  assert.equal(policy.allows('shop', '203.0.113.9'), false);
  assert.deepEqual(policy.allowedIn('anything'), ['203.0.113.0/24']);
});

test('an empty map or an empty list allows nothing; no policy allows everything', () => {
  assert.equal(parseIpPolicy('namespaces: {}').allows('shop', '104.248.100.100'), false);
  assert.equal(parseIpPolicy('namespaces:\n  shop: []').allows('shop', '104.248.100.100'), false);
  assert.equal(ALLOW_ALL.allows('shop', '104.248.100.100'), true);
});

test('the denial sentence names the IP, the namespace and what is allowed there', () => {
  const policy = parseIpPolicy(POLICY);
  assert.equal(
    notAllowedMessage(policy, 'shop', '104.248.100.101'),
    'reserved IP 104.248.100.101 may not be claimed in namespace shop (floatip IP policy allows here: 104.248.100.100, 198.51.100.0/28)',
  );
  assert.equal(
    notAllowedMessage(policy, 'web', '104.248.100.101'),
    'reserved IP 104.248.100.101 may not be claimed in namespace web (floatip IP policy allows here: none)',
  );
  const many = parseIpPolicy(`namespaces:\n  a: [${Array.from({ length: 10 }, (_, i) => `"203.0.113.${i}"`).join(', ')}]\n`);
  assert.match(notAllowedMessage(many, 'a', '198.51.100.1'), /203\.0\.113\.7 and 2 more\)$/);
  const ips = ['104.248.100.1', '104.248.100.2', '104.248.100.3', '104.248.100.4', '104.248.100.5'];
  assert.equal(
    notAllowedSummary(policy, 'web', ips),
    `${ips.slice(0, 3).map((ip) => notAllowedMessage(policy, 'web', ip)).join('; ')}; and 2 more addresses not allowed there`,
  );
  assert.equal(notAllowedSummary(policy, 'web', ips.slice(0, 1)), notAllowedMessage(policy, 'web', ips[0] as string));
});

test('bad files are refused with a sentence naming the problem', () => {
  const src = '--ip-policy-file p.yaml';
  for (const [text, message] of [
    ['namespaces: [', /^--ip-policy-file p\.yaml is not valid YAML: /],
    ['', /must be a map with a "namespaces" map/],
    ['shop: ["104.248.100.100"]', /must be a map with a "namespaces" map/],
    ['namespaces: {}\nnamespace: {}', /unknown key "namespace"/],
    ['namespaces:\n  Shop: []', /"Shop" is not a namespace name/],
    ['namespaces:\n  shop: "104.248.100.100"', /namespace "shop" must map to a list/],
    ['namespaces:\n  shop: [104]', /namespace "shop": every entry must be a quoted IP address or CIDR/],
    ['namespaces:\n  shop: ["104.248.100"]', /namespace "shop": "104\.248\.100" is not an IP address or CIDR/],
    ['namespaces:\n  shop: ["fe80::1%eth0"]', /"fe80::1%eth0" is not an IP address or CIDR/],
    ['namespaces:\n  shop: ["198.51.100.0/33"]', /"198\.51\.100\.0\/33" has an invalid prefix length \(0-32\)/],
    ['namespaces:\n  shop: ["2604:a880::/1x"]', /invalid prefix length \(0-128\)/],
    ['namespaces:\n  shop: []\n  shop: []', /is not valid YAML: .*[Uu]nique/],
  ] as const) {
    assert.throws(() => parseIpPolicy(text, src), { message: message }, text);
    assert.throws(() => parseIpPolicy(text, src), (err: Error) => err.message.startsWith(src), text);
  }
});

test('the input is bounded: size, namespaces and entries', () => {
  assert.throws(() => parseIpPolicy(`namespaces: {}\n#${'x'.repeat(MAX_POLICY_BYTES)}`), /larger than 64 KiB/);
  const namespaces = Array.from({ length: 1025 }, (_, i) => `  n${i}: []`).join('\n');
  assert.throws(() => parseIpPolicy(`namespaces:\n${namespaces}\n`), /more than 1024 namespaces/);
  const entries = Array.from({ length: 4097 }, (_, i) => `"10.${i >> 8}.${i & 255}.0/24"`).join(',');
  assert.throws(() => parseIpPolicy(`namespaces:\n  a: [${entries}]\n`), /more than 4096 entries/);
  const aliases = `namespaces:\n  n: &a ["198.51.100.1"]\n${Array.from({ length: 200 }, (_, i) => `  n${i}: *a`).join('\n')}\n`;
  assert.throws(() => parseIpPolicy(aliases), /not valid YAML: .*alias/i);
});
