// The namespace IP policy: which namespaces may claim which reserved IPs. Read from one YAML
// file by the webhook (a clear denial at admission) and by the reconciler (an address the
// namespace may not claim is dropped from the pod's claims), so both enforce one rule:
//
//   namespaces:
//     shop: ["104.248.100.100", "198.51.100.0/28"]
//     "*": []        # optional: what every namespace not listed may claim
//
// A namespace that is not listed, with no "*", may claim none. No file: everything allowed.
// Node's BlockList does the matching (as reconciler/adoptable.ts); the file is bounded in
// size and entries, and every error names the namespace and the entry.
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import type { parse as parseYaml } from 'yaml';
import { ConfigError, DNS_LABEL } from './config-values.ts';

export interface IpPolicy {
  /** whether pods of `namespace` may claim `ip` (canonical text, as shared/addresses.ts gives it) */
  allows(namespace: string, ip: string): boolean;
  /** the entries the namespace may claim, as written in the file (for messages) */
  allowedIn(namespace: string): readonly string[];
}

/** No policy file: any namespace may claim any reserved IP (floatip's behaviour without one). */
export const ALLOW_ALL: IpPolicy = { allows: () => true, allowedIn: () => ['any reserved IP'] };

/** A policy for a few hundred namespaces is a few KiB; more is a mistake, not a policy. */
export const MAX_POLICY_BYTES = 64 * 1024;
export const MAX_NAMESPACES = 1024;
export const MAX_ENTRIES = 4096;
const WILDCARD = '*';
const EXAMPLE = 'e.g. 104.248.100.100 or 198.51.100.0/28';

interface Rule {
  readonly list: BlockList;
  readonly entries: readonly string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const short = (text: string): string => (text.length > 64 ? `${text.slice(0, 61)}...` : text);

function addEntry(list: BlockList, entry: string, where: string): void {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const prefixText = slash === -1 ? undefined : entry.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || address.includes('%')) {
    throw new ConfigError(`${where}: "${short(entry)}" is not an IP address or CIDR (${EXAMPLE})`);
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefixText === undefined) {
    list.addAddress(address, type);
    return;
  }
  const max = family === 6 ? 128 : 32;
  const prefix = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new ConfigError(`${where}: "${short(entry)}" has an invalid prefix length (0-${max})`);
  }
  list.addSubnet(address, prefix, type);
}

function parseRule(namespace: string, value: unknown, source: string): Rule {
  const where = `${source}: namespace "${namespace}"`;
  if (!Array.isArray(value)) {
    throw new ConfigError(`${where} must map to a list of reserved IPs or CIDRs (${EXAMPLE}; [] for none)`);
  }
  const list = new BlockList();
  const entries: string[] = [];
  for (const item of value) {
    if (typeof item !== 'string') throw new ConfigError(`${where}: every entry must be a quoted IP address or CIDR (${EXAMPLE})`);
    const entry = item.trim();
    addEntry(list, entry, where);
    entries.push(entry);
  }
  return { list, entries };
}

/** Parse a policy file; `source` names it in errors (e.g. `--ip-policy-file policy.yaml`). Throws ConfigError. */
export function parseIpPolicy(text: string, source = 'IP policy'): IpPolicy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    throw new ConfigError(`${source} is larger than ${MAX_POLICY_BYTES / 1024} KiB; list CIDRs instead of single addresses`);
  }
  let doc: unknown;
  try {
    // aliases are bounded too, so that no "billion laughs" document expands past the file size
    // the YAML parser (~6 MiB) is loaded only when a policy file is given
    const { parse } = createRequire(import.meta.url)('yaml') as { parse: typeof parseYaml };
    doc = parse(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  if (!isRecord(doc) || !isRecord(doc['namespaces'])) {
    throw new ConfigError(`${source} must be a map with a "namespaces" map of namespace to reserved IPs (namespaces: { shop: ["104.248.100.100"] })`);
  }
  const unknown = Object.keys(doc).find((k) => k !== 'namespaces');
  if (unknown !== undefined) throw new ConfigError(`${source}: unknown key "${short(unknown)}" (only "namespaces" is read)`);

  const rules = new Map<string, Rule>();
  let total = 0;
  for (const [namespace, value] of Object.entries(doc['namespaces'])) {
    if (namespace !== WILDCARD && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
      throw new ConfigError(`${source}: "${short(namespace)}" is not a namespace name (lower-case letters, digits and "-") or "*"`);
    }
    if (rules.size >= MAX_NAMESPACES) throw new ConfigError(`${source} lists more than ${MAX_NAMESPACES} namespaces`);
    const rule = parseRule(namespace, value, source);
    total += rule.entries.length;
    if (total > MAX_ENTRIES) throw new ConfigError(`${source} has more than ${MAX_ENTRIES} entries; list CIDRs instead of single addresses`);
    rules.set(namespace, rule);
  }

  const ruleOf = (namespace: string): Rule | undefined => rules.get(namespace) ?? rules.get(WILDCARD);
  return {
    allows(namespace, ip) {
      const rule = ruleOf(namespace);
      const family = isIP(ip);
      return rule !== undefined && family !== 0 && rule.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
    allowedIn: (namespace) => ruleOf(namespace)?.entries ?? [],
  };
}

/**
 * The sentences for several refused addresses: the first three, then how many more, so that a
 * long annotation does not make a denial or an Event of many KiB.
 */
export function notAllowedSummary(policy: IpPolicy, namespace: string, ips: readonly string[]): string {
  const shown = ips.slice(0, 3).map((ip) => notAllowedMessage(policy, namespace, ip));
  return shown.join('; ') + (ips.length > 3 ? `; and ${ips.length - 3} more addresses not allowed there` : '');
}

/** The sentence both processes use for an address the namespace may not claim. */
export function notAllowedMessage(policy: IpPolicy, namespace: string, ip: string): string {
  const allowed = policy.allowedIn(namespace);
  // a long list is cut: the message is for a person, who can read the rest in the file
  const shown = allowed.slice(0, 8).join(', ') + (allowed.length > 8 ? ` and ${allowed.length - 8} more` : '');
  return `reserved IP ${ip} may not be claimed in namespace ${namespace} (floatip IP policy allows here: ${allowed.length === 0 ? 'none' : shown})`;
}
