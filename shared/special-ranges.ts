// Address blocks that can never be a DigitalOcean reserved IP, with where each comes from.
// The rows are the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, RFC 8190)
// as updated in 2025 (IPv6 registry: 2025-10-09), plus the two multicast spaces, which
// have registries of their own. Every row is rejected, even those the registries mark
// "globally reachable" (AS112, AMT, 6to4, Teredo, ORCHIDv2...): those are anycast or
// protocol blocks run by their operators, never space a cloud hands out as reserved IPs.
// Nested rows (192.0.0.8/32 in 192.0.0.0/24) are kept so a denial names the precise purpose;
// the most specific row that contains an address is the one reported.

export type RangeSource =
  | 'IANA IPv4 Special-Purpose Address Registry'
  | 'IANA IPv6 Special-Purpose Address Registry'
  | 'IANA IPv4 Multicast Address Space Registry'
  | 'IANA IPv6 Multicast Address Space Registry'
  | 'IANA IPv6 Address Space Registry';

export interface SpecialRange {
  readonly cidr: string;
  /** the block's name in its registry */
  readonly name: string;
  /** what a user reads in a denial: "a documentation address" */
  readonly what: string;
  readonly rfc: string;
  readonly registry: RangeSource;
}

const V4: RangeSource = 'IANA IPv4 Special-Purpose Address Registry';
const V6: RangeSource = 'IANA IPv6 Special-Purpose Address Registry';

const row = (cidr: string, name: string, what: string, rfc: string, registry: RangeSource): SpecialRange =>
  Object.freeze({ cidr, name, what, rfc, registry });

export const SPECIAL_RANGES: readonly SpecialRange[] = Object.freeze([
  row('0.0.0.0/8', '"This network"', 'a "this network" address', 'RFC 791', V4),
  row('0.0.0.0/32', '"This host on this network"', 'the unspecified address', 'RFC 1122', V4),
  row('10.0.0.0/8', 'Private-Use', 'a private address', 'RFC 1918', V4),
  row('100.64.0.0/10', 'Shared Address Space', 'a carrier-grade NAT (shared) address', 'RFC 6598', V4),
  row('127.0.0.0/8', 'Loopback', 'a loopback address', 'RFC 1122', V4),
  row('169.254.0.0/16', 'Link Local', 'a link-local address', 'RFC 3927', V4),
  row('172.16.0.0/12', 'Private-Use', 'a private address', 'RFC 1918', V4),
  row('192.0.0.0/24', 'IETF Protocol Assignments', 'an IETF protocol assignment address', 'RFC 6890', V4),
  row('192.0.0.0/29', 'IPv4 Service Continuity Prefix', 'a DS-Lite (IPv4 service continuity) address', 'RFC 7335', V4),
  row('192.0.0.8/32', 'IPv4 dummy address', 'the IPv4 dummy address', 'RFC 7600', V4),
  row('192.0.0.9/32', 'Port Control Protocol Anycast', 'the Port Control Protocol anycast address', 'RFC 7723', V4),
  row('192.0.0.10/32', 'Traversal Using Relays around NAT Anycast', 'the TURN anycast address', 'RFC 8155', V4),
  row('192.0.0.170/32', 'NAT64/DNS64 Discovery', 'a NAT64/DNS64 discovery address', 'RFC 8880', V4),
  row('192.0.0.171/32', 'NAT64/DNS64 Discovery', 'a NAT64/DNS64 discovery address', 'RFC 8880', V4),
  row('192.0.2.0/24', 'Documentation (TEST-NET-1)', 'a documentation address', 'RFC 5737', V4),
  row('192.31.196.0/24', 'AS112-v4', 'an AS112 DNS sink address', 'RFC 7535', V4),
  row('192.52.193.0/24', 'AMT', 'an AMT (multicast tunnelling) address', 'RFC 7450', V4),
  row('192.88.99.0/24', 'Deprecated (6to4 Relay Anycast)', 'a deprecated 6to4 relay anycast address', 'RFC 7526', V4),
  row('192.88.99.2/32', '6a44-relay anycast address', 'the 6a44 relay anycast address', 'RFC 6751', V4),
  row('192.168.0.0/16', 'Private-Use', 'a private address', 'RFC 1918', V4),
  row('192.175.48.0/24', 'Direct Delegation AS112 Service', 'an AS112 DNS sink address', 'RFC 7534', V4),
  row('198.18.0.0/15', 'Benchmarking', 'a benchmarking address', 'RFC 2544', V4),
  row('198.51.100.0/24', 'Documentation (TEST-NET-2)', 'a documentation address', 'RFC 5737', V4),
  row('203.0.113.0/24', 'Documentation (TEST-NET-3)', 'a documentation address', 'RFC 5737', V4),
  row('224.0.0.0/4', 'Multicast', 'a multicast address', 'RFC 5771', 'IANA IPv4 Multicast Address Space Registry'),
  row('240.0.0.0/4', 'Reserved', 'a reserved address', 'RFC 1112', V4),
  row('255.255.255.255/32', 'Limited Broadcast', 'the broadcast address', 'RFC 919', V4),

  row('::1/128', 'Loopback Address', 'the loopback address', 'RFC 4291', V6),
  row('::/128', 'Unspecified Address', 'the unspecified address', 'RFC 4291', V6),
  row('::ffff:0:0/96', 'IPv4-mapped Address', 'an IPv4-mapped address', 'RFC 4291', V6),
  row('64:ff9b::/96', 'IPv4-IPv6 Translat.', 'a NAT64 (IPv4-IPv6 translation) address', 'RFC 6052', V6),
  row('64:ff9b:1::/48', 'IPv4-IPv6 Translat.', 'a local-use NAT64 address', 'RFC 8215', V6),
  row('100::/64', 'Discard-Only Address Block', 'a discard-only address', 'RFC 6666', V6),
  row('100:0:0:1::/64', 'Dummy IPv6 Prefix', 'a dummy-prefix address', 'RFC 9780', V6),
  row('2001::/23', 'IETF Protocol Assignments', 'an IETF protocol assignment address', 'RFC 2928', V6),
  row('2001::/32', 'TEREDO', 'a Teredo tunnelling address', 'RFC 4380', V6),
  row('2001:1::1/128', 'Port Control Protocol Anycast', 'the Port Control Protocol anycast address', 'RFC 7723', V6),
  row('2001:1::2/128', 'Traversal Using Relays around NAT Anycast', 'the TURN anycast address', 'RFC 8155', V6),
  row('2001:1::3/128', 'DNS-SD Service Registration Protocol Anycast', 'the DNS-SD registration anycast address', 'RFC 9665', V6),
  row('2001:2::/48', 'Benchmarking', 'a benchmarking address', 'RFC 5180', V6),
  row('2001:3::/32', 'AMT', 'an AMT (multicast tunnelling) address', 'RFC 7450', V6),
  row('2001:4:112::/48', 'AS112-v6', 'an AS112 DNS sink address', 'RFC 7535', V6),
  row('2001:10::/28', 'Deprecated (previously ORCHID)', 'a deprecated ORCHID address', 'RFC 4843', V6),
  row('2001:20::/28', 'ORCHIDv2', 'an ORCHIDv2 (hash identifier) address', 'RFC 7343', V6),
  row('2001:30::/28', 'Drone Remote ID Protocol Entity Tags (DETs) Prefix', 'a drone remote ID (DET) address', 'RFC 9374', V6),
  row('2001:db8::/32', 'Documentation', 'a documentation address', 'RFC 3849', V6),
  row('2002::/16', '6to4', 'a 6to4 address', 'RFC 3056', V6),
  row('2620:4f:8000::/48', 'Direct Delegation AS112 Service', 'an AS112 DNS sink address', 'RFC 7534', V6),
  row('3fff::/20', 'Documentation', 'a documentation address', 'RFC 9637', V6),
  row('5f00::/16', 'Segment Routing (SRv6) SIDs', 'a segment routing (SRv6) SID', 'RFC 9602', V6),
  row('fc00::/7', 'Unique-Local', 'a unique local (private) address', 'RFC 4193', V6),
  row('fe80::/10', 'Link-Local Unicast', 'a link-local address', 'RFC 4291', V6),
  row('ff00::/8', 'Multicast', 'a multicast address', 'RFC 4291', 'IANA IPv6 Multicast Address Space Registry'),
]);

/** IANA hands out IPv6 unicast space only from here, so every reserved IPv6 lies inside it. */
export const GLOBAL_UNICAST_V6: SpecialRange = row(
  '2000::/3',
  'Global Unicast',
  'a global unicast address',
  'RFC 4291',
  'IANA IPv6 Address Space Registry',
);
