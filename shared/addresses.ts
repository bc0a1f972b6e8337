// The floating-IP annotation value: one or more reserved IPs, comma-separated, spaces
// allowed. Parsing is strict and hand-written (net.isIP accepts zone ids and, on some
// Node versions, forms we reject) and canonicalises IPv6 per RFC 5952, so one address
// written two ways is one address everywhere (webhook, reconciler, DigitalOcean calls).
// Every rejection is one sentence naming the bad entry and what a valid value looks like;
// the webhook prefixes it with the object and annotation key.
// The input is hostile (anyone who may create a Pod writes it): no regular expressions, every
// check is one linear scan, and a value over MAX_VALUE_BYTES is refused before any scanning.
import { GLOBAL_UNICAST_V6, SPECIAL_RANGES } from './special-ranges.ts';
import type { SpecialRange } from './special-ranges.ts';

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
/** For a documentation address: the placeholder of an example, left as it was copied. */
export const PLACEHOLDER_FIX = "a placeholder, replace it with a reserved IP of your account in the cluster's region (doctl compute reserved-ip list)";

/**
 * The longest annotation value read, in UTF-8 bytes. A pool of reserved IPs is a few hundred
 * bytes (the longest address is 45 characters); Kubernetes allows 256 KiB of annotations.
 */
export const MAX_VALUE_BYTES = 4096;

// ---- character classes (plain comparisons, so every check is one linear pass) ----

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
/** The separators allowed around entries: space, tab, CR, LF. */
const isEdgeSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
/** What /\s/ matches (ECMAScript WhiteSpace and LineTerminator). */
function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

function every(text: string, test: (c: number) => boolean): boolean {
  for (let i = 0; i < text.length; i++) if (!test(text.charCodeAt(i))) return false;
  return true;
}

function some(text: string, test: (c: number) => boolean): boolean {
  return !every(text, (c) => !test(c));
}

/** text without leading and trailing space/tab/CR/LF; two index walks, no regex. */
function trimEdges(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isEdgeSpace(text.charCodeAt(start))) start++;
  while (end > start && isEdgeSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

// ---- parsing (no policy) ----

/** Strict dotted quad: four decimal octets 0-255, no leading zeros, nothing else. */
function parseIpv4Octets(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    // A leading zero is rejected because inet_aton reads "010" as octal 8.
    if (part.length < 1 || part.length > 3 || !every(part, isDigit) || (part.length > 1 && part[0] === '0')) return null;
    const n = Number(part);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

function parseHexGroups(text: string): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (g.length < 1 || g.length > 4 || !every(g, isHex)) return null;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

/** Any RFC 4291 §2.2 text form, including a trailing embedded dotted quad. Eight 16-bit groups. */
function parseIpv6Groups(input: string): number[] | null {
  if (input === '' || !every(input, (c) => isHex(c) || c === 0x3a || c === 0x2e)) return null;
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
  readonly bytes: readonly number[];
  readonly bits: number;
  readonly cidr: string;
}

function range(cidr: string): Range {
  const [base = '', bits = ''] = cidr.split('/');
  const address = parseAddress(base);
  if (!address) throw new Error(`bad built-in range ${cidr}`);
  return { family: address.family, bytes: toBytes(address), bits: Number(bits), cidr };
}

function contains(r: Range, bytes: readonly number[]): boolean {
  const whole = r.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== r.bytes[i]) return false;
  const rest = r.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === ((r.bytes[whole] ?? 0) & mask);
}

interface SpecialBlock extends Range {
  readonly source: SpecialRange;
}

const SPECIAL: readonly SpecialBlock[] = SPECIAL_RANGES.map((source) => ({ ...range(source.cidr), source }));
const GLOBAL_UNICAST = range(GLOBAL_UNICAST_V6.cidr);
// Not an IANA block: DigitalOcean gives every droplet an anchor IP from here (inside 10/8),
// which people mistake for a reserved IP, so it gets its own hint.
const DO_ANCHOR = range('10.20.0.0/16');

/** The most specific special-purpose block holding the address, if any. */
function specialRangeOf(family: 4 | 6, bytes: readonly number[]): SpecialBlock | undefined {
  let best: SpecialBlock | undefined;
  for (const r of SPECIAL) {
    if (r.family === family && (!best || r.bits > best.bits) && contains(r, bytes)) best = r;
  }
  return best;
}

function quote(entry: string): string {
  // JSON quoting escapes control characters; long entries are cut (never inside a surrogate
  // pair) before quoting, so a message stays one short line however long the input.
  if (entry.length <= 64) return JSON.stringify(entry);
  const cut = isHighSurrogate(entry.charCodeAt(60)) ? 60 : 61;
  return JSON.stringify(`${entry.slice(0, cut)}...`);
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

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
  const special = specialRangeOf(address.family, bytes);
  if (special) {
    const { cidr, what, rfc } = special.source;
    // A single-address block needs no prefix: the address is the block.
    const where = special.bits === (special.family === 4 ? 32 : 128) ? rfc : `${cidr}, ${rfc}`;
    // Examples and docs use documentation addresses as placeholders: say what to do instead.
    if (special.source.name.startsWith('Documentation')) return `${named(entry, address)} is ${what} (${where}): ${PLACEHOLDER_FIX}`;
    return `${named(entry, address)} is ${what} (${where}) ${never}`;
  }
  if (address.family === 6 && !contains(GLOBAL_UNICAST, bytes)) {
    return `${named(entry, address)} is not a global unicast address (outside ${GLOBAL_UNICAST.cidr}, ${GLOBAL_UNICAST_V6.rfc}) ${never}`;
  }
  return null;
}

/** "[addr]" or "[addr]:port", as in a URL: the inside and whether a port follows. */
function bracketed(entry: string): { inside: string; port: boolean } | null {
  if (entry[0] !== '[') return null;
  const close = entry.indexOf(']');
  if (close < 0) return null;
  const after = entry.slice(close + 1);
  if (after === '') return { inside: entry.slice(1, close), port: false };
  if (after[0] === ':' && every(after.slice(1), isDigit)) return { inside: entry.slice(1, close), port: true };
  return null;
}

/** Best-effort hint for an entry that is not an address: say what is wrong with it. */
function notAnAddressReason(entry: string): string {
  const q = quote(entry);
  if (some(entry, isWhitespace)) {
    return `${q} contains whitespace inside an entry; separate addresses with commas (${EXAMPLE_LIST})`;
  }
  const percent = entry.indexOf('%');
  if (percent >= 0) {
    return `${q} has a zone id (${quote(entry.slice(percent))}), which a reserved IP never has (${EXAMPLE_V6})`;
  }
  const inBrackets = bracketed(entry);
  if (inBrackets) {
    const bare = parseAddress(inBrackets.inside);
    const hint = bare ? `write ${bare.text} without brackets` : EXAMPLE_V6;
    const port = inBrackets.port ? ' with a port' : '';
    return `${q} is written in brackets${port}; the annotation takes a bare address (${hint})`;
  }
  const slash = entry.indexOf('/');
  const base = slash >= 0 ? parseAddress(entry.slice(0, slash)) : null;
  if (base) return `${q} is a prefix, not a single address (expected e.g. ${base.text})`;
  const parts = entry.split('.');
  if (parts.length === 4 && parts.every((p) => p !== '' && every(p, isDigit))) {
    if (parts.some((p) => p.length > 1 && p.startsWith('0'))) {
      return `${q} has an octet with a leading zero, which some tools read as octal (${EXAMPLE_V4})`;
    }
    if (parts.some((p) => Number(p) > 255)) {
      return `${q} has an octet above 255 (${EXAMPLE_V4})`;
    }
  }
  return `${q} is not an IPv4 or IPv6 address (${EXAMPLE_ANY})`;
}

export interface ParseOptions {
  /** longest value read, in UTF-8 bytes (default MAX_VALUE_BYTES) */
  readonly maxBytes?: number;
}

/** The annotation value → its addresses, canonical, in order; or the first problem found. */
export function parseAddressList(value: string, opts: ParseOptions = {}): AddressListResult {
  const maxBytes = opts.maxBytes ?? MAX_VALUE_BYTES;
  // Checked first, in one native pass: nothing longer is scanned, split or echoed.
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    return {
      ok: false,
      reason: `the value is ${bytes} bytes long, more than the ${maxBytes} bytes a list of reserved IPs may take (${EXAMPLE_LIST})`,
    };
  }
  if (trimEdges(value) === '') {
    return { ok: false, reason: `the value is empty (${EXAMPLE_ANY})` };
  }
  const entries = value.split(',').map(trimEdges);
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
