// The floating-IP annotation value: one or more reserved IPs, comma-separated, spaces
// allowed. Parsing is strict and hand-written (net.isIP accepts zone ids and, on some
// Node versions, forms we reject) and canonicalises IPv6 per RFC 5952, so one address
// written two ways is one address everywhere (webhook, reconciler, DigitalOcean calls).
// Every rejection is one sentence naming the bad entry and what a valid value looks like;
// the webhook prefixes it with the object and annotation key.

export interface ReservedAddress {
  /** canonical text: dotted quad, or RFC 5952 for IPv6 */
  readonly text: string;
  readonly family: 4 | 6;
}

export type AddressListResult =
  | { readonly ok: true; readonly addresses: readonly ReservedAddress[] }
  | { readonly ok: false; readonly reason: string };

const EXAMPLE_ANY = 'expected e.g. 104.248.100.100 or 2604:a880:800:14::1';
const EXAMPLE_V4 = 'expected e.g. 104.248.100.100';
const EXAMPLE_V6 = 'expected e.g. 2604:a880:800:14::1';
const EXAMPLE_LIST = 'expected e.g. 104.248.100.100, 2604:a880:800:14::1';
const EXAMPLE_PUBLIC = 'expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1';

// ---- parsing (no policy) ----

/** Strict dotted quad: four decimal octets 0-255, no leading zeros, nothing else. */
function parseIpv4Octets(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    // A leading zero is rejected because inet_aton reads "010" as octal 8.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseHexGroups(text: string): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (!HEX_GROUP.test(g)) return null;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

/** Any RFC 4291 §2.2 text form, including a trailing embedded dotted quad. Eight 16-bit groups. */
function parseIpv6Groups(input: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(input)) return null;
  let text = input;
  if (text.includes('.')) {
    // x:x:x:x:x:x:d.d.d.d — rewrite the dotted tail as two hex groups, then parse as hex.
    const lastColon = text.lastIndexOf(':');
    if (lastColon < 0) return null;
    const v4 = parseIpv4Octets(text.slice(lastColon + 1));
    if (!v4) return null;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  if (halves.length === 1) {
    const groups = parseHexGroups(text);
    return groups && groups.length === 8 ? groups : null;
  }
  const left = parseHexGroups(halves[0] ?? '');
  const right = parseHexGroups(halves[1] ?? '');
  // "::" stands for at least one zero group (RFC 4291), so at most 7 explicit groups.
  if (!left || !right || left.length + right.length > 7) return null;
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function isIpv4Mapped(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

/** RFC 5952: lower case, no leading zeros, "::" for the longest (first) run of >= 2 zero groups. */
function formatIpv6(groups: readonly number[]): string {
  if (isIpv4Mapped(groups)) {
    // RFC 5952 §5: IPv4-mapped addresses keep the dotted tail.
    const lo = groups[6] ?? 0;
    const hi = groups[7] ?? 0;
    return `::ffff:${lo >> 8}.${lo & 0xff}.${hi >> 8}.${hi & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** One IP address, canonicalised. No policy checks; null when it is not an address. */
export function parseAddress(text: string): ReservedAddress | null {
  const v4 = parseIpv4Octets(text);
  if (v4) return Object.freeze({ text: v4.join('.'), family: 4 as const });
  const v6 = parseIpv6Groups(text);
  if (v6) return Object.freeze({ text: formatIpv6(v6), family: 6 as const });
  return null;
}

// ---- policy: addresses that can never be DigitalOcean reserved IPs ----

/** Address as bytes (4 or 16), for prefix matching. */
function toBytes(address: ReservedAddress): number[] {
  if (address.family === 4) return parseIpv4Octets(address.text) ?? [];
  return (parseIpv6Groups(address.text) ?? []).flatMap((g) => [g >> 8, g & 0xff]);
}

interface Range {
  readonly family: 4 | 6;
  readonly bytes: number[];
  readonly bits: number;
  readonly cidr: string;
  readonly what: string;
}

function range(cidr: string, what: string): Range {
  const [base = '', bits = ''] = cidr.split('/');
  const address = parseAddress(base);
  if (!address) throw new Error(`bad built-in range ${cidr}`);
  return { family: address.family, bytes: toBytes(address), bits: Number(bits), cidr, what };
}

function contains(r: Range, bytes: readonly number[]): boolean {
  for (let bit = 0; bit < r.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    const i = Math.floor(bit / 8);
    if (((bytes[i] ?? 0) & mask) !== ((r.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

// Order matters: the first match names the problem, so specific ranges precede wider ones.
const NON_RESERVABLE: readonly Range[] = [
  range('0.0.0.0/32', 'the unspecified address'),
  range('0.0.0.0/8', 'a "this network" address'),
  range('10.0.0.0/8', 'a private address'),
  range('100.64.0.0/10', 'a carrier-grade NAT (shared) address'),
  range('127.0.0.0/8', 'a loopback address'),
  range('169.254.0.0/16', 'a link-local address'),
  range('172.16.0.0/12', 'a private address'),
  range('192.0.0.0/24', 'an IETF protocol assignment address'),
  range('192.0.2.0/24', 'a documentation address'),
  range('192.168.0.0/16', 'a private address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('198.51.100.0/24', 'a documentation address'),
  range('203.0.113.0/24', 'a documentation address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('255.255.255.255/32', 'the broadcast address'),
  range('240.0.0.0/4', 'a reserved address'),
  range('::/128', 'the unspecified address'),
  range('::1/128', 'the loopback address'),
  range('::ffff:0:0/96', 'an IPv4-mapped address'),
  range('2001:db8::/32', 'a documentation address'),
  range('fc00::/7', 'a unique local (private) address'),
  range('fe80::/10', 'a link-local address'),
  range('ff00::/8', 'a multicast address'),
];
// Every global unicast allocation, and so every reserved IPv6, lies in 2000::/3.
const GLOBAL_UNICAST_V6 = range('2000::/3', 'global unicast');
const DO_ANCHOR = range('10.20.0.0/16', 'a DigitalOcean anchor IP');

function quote(entry: string): string {
  // JSON quoting escapes control characters; very long entries are cut so a message stays readable.
  const short = entry.length > 64 ? `${entry.slice(0, 61)}...` : entry;
  return JSON.stringify(short);
}

function named(entry: string, address: ReservedAddress): string {
  return entry === address.text ? quote(entry) : `${quote(entry)} (${address.text})`;
}

/** Why this address can never be a DigitalOcean reserved IP, or null when it can be one. */
export function nonReservableReason(entry: string, address: ReservedAddress): string | null {
  const bytes = toBytes(address);
  if (address.family === 4 && contains(DO_ANCHOR, bytes)) {
    return `${named(entry, address)} is in DigitalOcean's anchor range ${DO_ANCHOR.cidr}: anchor IPs belong in a Service's externalIPs, not in this annotation (${EXAMPLE_PUBLIC})`;
  }
  const never = `and can never be a DigitalOcean reserved IP (${EXAMPLE_PUBLIC})`;
  for (const r of NON_RESERVABLE) {
    if (r.family !== address.family || !contains(r, bytes)) continue;
    const where = r.bits === (r.family === 4 ? 32 : 128) ? '' : ` (${r.cidr})`;
    return `${named(entry, address)} is ${r.what}${where} ${never}`;
  }
  if (address.family === 6 && !contains(GLOBAL_UNICAST_V6, bytes)) {
    return `${named(entry, address)} is not a global unicast address (outside ${GLOBAL_UNICAST_V6.cidr}) ${never}`;
  }
  return null;
}

/** Best-effort hint for an entry that is not an address: say what is wrong with it. */
function notAnAddressReason(entry: string): string {
  const q = quote(entry);
  if (/\s/.test(entry)) {
    return `${q} contains whitespace inside an entry; separate addresses with commas (${EXAMPLE_LIST})`;
  }
  if (entry.includes('%')) {
    const base = entry.slice(0, entry.indexOf('%'));
    return `${q} has a zone id (${quote(entry.slice(base.length))}), which a reserved IP never has (${EXAMPLE_V6})`;
  }
  // "[addr]" or "[addr]:port", as in a URL
  const bracketed = /^\[([^\]]*)\](:[0-9]*)?$/.exec(entry);
  if (bracketed) {
    const bare = parseAddress(bracketed[1] ?? '');
    const hint = bare ? `write ${bare.text} without brackets` : EXAMPLE_V6;
    const port = bracketed[2] ? ' with a port' : '';
    return `${q} is written in brackets${port}; the annotation takes a bare address (${hint})`;
  }
  const slash = entry.indexOf('/');
  if (slash >= 0 && parseAddress(entry.slice(0, slash))) {
    const base = parseAddress(entry.slice(0, slash));
    return `${q} is a prefix, not a single address (expected e.g. ${base?.text ?? '104.248.100.100'})`;
  }
  if (/^[0-9.]+$/.test(entry)) {
    const parts = entry.split('.');
    if (parts.length === 4 && parts.every((p) => /^[0-9]+$/.test(p))) {
      if (parts.some((p) => p.length > 1 && p.startsWith('0'))) {
        return `${q} has an octet with a leading zero, which some tools read as octal (${EXAMPLE_V4})`;
      }
      if (parts.some((p) => Number(p) > 255)) {
        return `${q} has an octet above 255 (${EXAMPLE_V4})`;
      }
    }
  }
  return `${q} is not an IPv4 or IPv6 address (${EXAMPLE_ANY})`;
}

const EDGE_SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/** The annotation value → its addresses, canonical, in order; or the first problem found. */
export function parseAddressList(value: string): AddressListResult {
  if (value.replace(EDGE_SPACE, '') === '') {
    return { ok: false, reason: `the value is empty (${EXAMPLE_ANY})` };
  }
  const entries = value.split(',').map((e) => e.replace(EDGE_SPACE, ''));
  const seen = new Map<string, string>();
  const addresses: ReservedAddress[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry === '') {
      return {
        ok: false,
        reason: `${quote(value)} has an empty entry at position ${index + 1}; remove the stray comma (${EXAMPLE_LIST})`,
      };
    }
    const address = parseAddress(entry);
    if (!address) return { ok: false, reason: notAnAddressReason(entry) };
    const problem = nonReservableReason(entry, address);
    if (problem) return { ok: false, reason: problem };
    const first = seen.get(address.text);
    if (first !== undefined) {
      const same = first === entry ? '' : ` (same address as ${quote(first)})`;
      return { ok: false, reason: `${quote(entry)} is listed twice${same}; list each reserved IP once (${EXAMPLE_LIST})` };
    }
    seen.set(address.text, entry);
    addresses.push(address);
  }
  return { ok: true, addresses };
}
