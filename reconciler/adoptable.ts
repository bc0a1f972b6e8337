// The claim policy's exception list: reserved IPs that floatip may take from a droplet outside
// this cluster (`--adoptable-ips 203.0.113.7,198.51.100.0/28,2604:a880::/32`). Node's
// BlockList does the matching; this file only parses the flag into one, with clear errors.
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../shared/config-values.ts';

export interface AdoptableIps {
  /** whether `ip` (canonical text) may be taken from a droplet outside the cluster */
  (ip: string): boolean;
  /** the entries as given, for the start-up log line */
  readonly entries: readonly string[];
}

const NONE: AdoptableIps = Object.assign(() => false, { entries: [] as readonly string[] });

export function parseAdoptableIps(text: string | undefined): AdoptableIps {
  if (text === undefined || text.trim() === '') return NONE;
  const list = new BlockList();
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const entry of entries) {
    const [address = '', prefixText, extra] = entry.split('/');
    const family = isIP(address);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (family === 0 || extra !== undefined) {
      throw new ConfigError(`--adoptable-ips: "${entry.slice(0, 64)}" is not an IP address or CIDR (e.g. 203.0.113.7 or 198.51.100.0/28)`);
    }
    if (prefixText === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const prefix = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= (family === 6 ? 128 : 32))) {
      throw new ConfigError(`--adoptable-ips: "${entry.slice(0, 64)}" has an invalid prefix length (0-${family === 6 ? 128 : 32})`);
    }
    list.addSubnet(address, prefix, type);
  }
  const adoptable = (ip: string): boolean => {
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  return Object.assign(adoptable, { entries });
}
