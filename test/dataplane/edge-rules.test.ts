import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeRuleset, firewallsTargeting, ipv6Routes, movedIpv4s, ruleStatements } from './edge-rules.ts';

const droplets = [
  { id: 1001, anchor: '10.20.0.11', public4: '198.19.3.233', public6: '2001:db8:1::3e9' },
  { id: 1002, anchor: '10.20.0.12', public4: '198.19.3.234', public6: '2001:db8:1::3ea' },
];
const everywhere = { addresses: ['0.0.0.0/0', '::/0'] };
const view = {
  holders: { '104.248.100.100': 1002, '104.248.100.101': null, '2604:a880:800:14::1000': 1001 },
  droplets: [
    { id: 1001, tags: ['k8s:c1'], anchorIpv4: '10.20.0.11' },
    { id: 1002, tags: ['k8s:c1'], anchorIpv4: '10.20.0.12' },
    { id: 1003, tags: ['other'], anchorIpv4: '10.20.0.13' },
  ],
  firewalls: [
    { id: 'f1', name: 'floatip-c1', tags: ['k8s:c1'], dropletIds: [], inboundRules: [{ protocol: 'udp', ports: '7777', sources: everywhere }] },
    { id: 'f2', name: 'by-id', tags: [], dropletIds: [1003], inboundRules: [{ protocol: 'tcp', ports: '0', sources: { tags: ['k8s:c1'] } }] },
  ],
};

test('firewallsTargeting: by tag and by droplet id', () => {
  assert.deepEqual(firewallsTargeting(view, 1001).map((f) => f.name), ['floatip-c1']);
  assert.deepEqual(firewallsTargeting(view, 1003).map((f) => f.name), ['by-id']);
  assert.deepEqual(firewallsTargeting({ ...view, firewalls: [] }, 1001), []);
});

test('ruleStatements: ports, all ports, ICMP, families, and tag-only sources that open nothing to the internet', () => {
  const cases = [
    { rule: { protocol: 'udp', ports: '7777', sources: everywhere }, want: ['ip saddr { 0.0.0.0/0 } udp dport 7777 accept', 'ip6 saddr { ::/0 } udp dport 7777 accept'] },
    { rule: { protocol: 'tcp', ports: '30000-32767', sources: { addresses: ['203.0.113.0/24'] } }, want: ['ip saddr { 203.0.113.0/24 } tcp dport 30000-32767 accept'] },
    { rule: { protocol: 'tcp', ports: '0', sources: { addresses: ['::/0'] } }, want: ['ip6 saddr { ::/0 } meta l4proto tcp accept'] },
    { rule: { protocol: 'icmp', ports: '0', sources: { addresses: ['0.0.0.0/0'] } }, want: ['ip saddr { 0.0.0.0/0 } meta l4proto icmp accept'] },
    { rule: { protocol: 'tcp', ports: '0', sources: { tags: ['k8s:c1'] } }, want: [] },
  ];
  for (const c of cases) assert.deepEqual(ruleStatements(c.rule), c.want, JSON.stringify(c.rule));
});

test('edgeRuleset: DNAT to the holder anchor, the unassigned IP dropped, each droplet behind its firewalls', () => {
  const text = edgeRuleset(view, droplets);
  assert.match(text, /map holders4 \{ type ipv4_addr : ipv4_addr; elements = \{ 104\.248\.100\.100 : 10\.20\.0\.12 \} \}/);
  // the holder's anchor leaves as the reserved IP even where no edge conntrack entry says so
  assert.match(text, /map anchors4 \{ type ipv4_addr : ipv4_addr; elements = \{ 10\.20\.0\.12 : 104\.248\.100\.100 \} \}/);
  assert.match(text, /oifname "inet0" snat ip to ip saddr map @anchors4/);
  // the old holder's anchor, once the IP has moved, reaches the client no more
  assert.match(text, /iifname "pub0" oifname "inet0" ip saddr \{ 10\.20\.0\.11, 10\.20\.0\.12 \} ip saddr != \{ 10\.20\.0\.12 \} counter drop/);
  assert.match(edgeRuleset({ ...view, holders: {} }, droplets), /iifname "pub0" oifname "inet0" ip saddr \{ 10\.20\.0\.11, 10\.20\.0\.12 \} counter drop/);
  assert.match(text, /ip daddr \{ 104\.248\.100\.100, 104\.248\.100\.101 \} counter drop/);
  assert.match(text, /ip daddr \{ 10\.20\.0\.11, 198\.19\.3\.233 \} jump droplet_1001/);
  assert.match(text, /iifname "pub0" ip saddr \{ 10\.20\.0\.11, 198\.19\.3\.233, 10\.20\.0\.12, 198\.19\.3\.234 \} accept\n {4}iifname "pub0" ip6 saddr .* accept\n {4}iifname "pub0" counter drop/);
  assert.match(text, /ip6 daddr \{ 2001:db8:1::3e9, 2604:a880:800:14::1000 \} jump droplet_1001/);
  const chain1002 = text.slice(text.indexOf('chain droplet_1002'));
  assert.match(chain1002, /udp dport 7777 accept comment "floatip-c1"/);
  assert.match(chain1002, /counter drop comment "no cloud firewall allows it"/);
  // a droplet no firewall targets takes everything
  const open = edgeRuleset({ ...view, firewalls: [] }, droplets);
  assert.match(open, /chain droplet_1001 \{\n {4}accept\n {2}\}/);
});

test('ipv6Routes and movedIpv4s', () => {
  assert.deepEqual(ipv6Routes(view, droplets), [{ ip: '2604:a880:800:14::1000', via: '2001:db8:1::3e9' }]);
  assert.deepEqual(ipv6Routes({ holders: { '2604:a880:800:14::1000': 1003 } }, droplets), [{ ip: '2604:a880:800:14::1000', via: null }]);
  assert.deepEqual(movedIpv4s({ '104.248.100.100': 1001, '104.248.100.101': null, '2604:a880:800:14::1000': 1 }, view.holders), ['104.248.100.100']);
});
