// Is this value a droplet anchor address? One pure check for the agent (before it writes the
// node annotation) and the reconciler (before an anchor from a node goes into a Service's
// externalIPs). DigitalOcean gives every droplet created after October 2015 an anchor IPv4
// in 10.20.0.0/16 on eth0 (read from the metadata service; DigitalOcean docs, "How to Find
// Information about Droplet Anchor IPs" — its examples and every anchor we have seen are
// 10.20.x.y). The range is a flag (--anchor-range) in case DigitalOcean ever uses another.
//
// Why it matters: the reconciler copies the anchor into spec.externalIPs, and kube-proxy
// then captures traffic to that address *from inside the cluster* for the Service's pods.
// An agent (or a stolen agent token) that writes 8.8.8.8 would hijack the cluster's DNS
// traffic to Google; 127.0.0.1 makes the Service write fail and stalls failover.
import { BlockList } from 'node:net';
import { ConfigError } from './config-values.ts';
import { parseAddress } from './addresses.ts';

export const DEFAULT_ANCHOR_RANGE = '10.20.0.0/16';

export interface AnchorRange {
  /** as given, e.g. "10.20.0.0/16" */
  readonly cidr: string;
  contains(ipv4: string): boolean;
}

/** An IPv4 CIDR; the error names the flag. */
export function parseAnchorRange(text: string, flag = '--anchor-range'): AnchorRange {
  const cidr = text.trim();
  const [base = '', bits = '', extra] = cidr.split('/');
  const address = parseAddress(base);
  const prefix = /^[0-9]{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (extra !== undefined || address?.family !== 4 || !(prefix >= 8 && prefix <= 32)) {
    throw new ConfigError(`${flag} "${text.slice(0, 64)}" is not an IPv4 CIDR with a prefix of /8 to /32 (default ${DEFAULT_ANCHOR_RANGE})`);
  }
  const list = new BlockList();
  list.addSubnet(address.text, prefix, 'ipv4');
  return Object.freeze({ cidr: `${address.text}/${prefix}`, contains: (ip: string) => list.check(ip, 'ipv4') });
}

export const DEFAULT_ANCHORS: AnchorRange = parseAnchorRange(DEFAULT_ANCHOR_RANGE);

export type AnchorCheck = { readonly ok: true; readonly anchor: string } | { readonly ok: false; readonly why: string };

/** The value in canonical form when it is an IPv4 address inside the anchor range. */
export function checkAnchor(value: string, range: AnchorRange = DEFAULT_ANCHORS): AnchorCheck {
  const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
  const address = parseAddress(value.trim());
  if (address?.family !== 4) return { ok: false, why: `${shown} is not an IPv4 address` };
  if (!range.contains(address.text)) return { ok: false, why: `${shown} is not in the droplet anchor range ${range.cidr}` };
  return { ok: true, anchor: address.text };
}
