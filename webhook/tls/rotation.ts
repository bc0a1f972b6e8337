// Self-managed TLS as a pure state machine over what the Secret holds. Renewal never breaks
// the API server → webhook hop:
//   1. the CA nears expiry → a new CA is *staged*: trusted (in caBundle), not yet signing;
//   2. once staged for `stageMs` (the API server has long seen the new caBundle) it is
//      promoted: it signs a new serving cert, the old CA stays trusted as `previous`;
//   3. `previous` leaves the bundle when it expires.
// A serving cert near expiry, or with the wrong names, is simply reissued by the current CA.
import type { KeyPairPem } from './certs.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { X509Certificate } = process.getBuiltinModule('node:crypto');
type X509Certificate = InstanceType<typeof X509Certificate>;

export interface StoredTls {
  /** signing CA */
  readonly caCert: string;
  readonly caKey: string;
  /** staged CA: trusted, not yet signing */
  readonly nextCaCert?: string;
  readonly nextCaKey?: string;
  /** retired CA: still trusted while serving certs it signed may be in use */
  readonly previousCaCert?: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
}

export interface RotationPolicy {
  readonly caValidityMs: number;
  readonly certValidityMs: number;
  /** stage a new CA when the current one has less than this left */
  readonly caRenewBeforeMs: number;
  /** reissue the serving cert when it has less than this left */
  readonly certRenewBeforeMs: number;
  /** how long a staged CA is trusted before it signs */
  readonly stageMs: number;
}

const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_POLICY: RotationPolicy = {
  caValidityMs: 3 * 365 * DAY,
  certValidityMs: 365 * DAY,
  caRenewBeforeMs: 180 * DAY,
  certRenewBeforeMs: 60 * DAY,
  stageMs: 15 * 60 * 1000,
};

export interface CertFactory {
  newCa(now: Date): KeyPairPem;
  issue(ca: KeyPairPem, now: Date, hosts: readonly string[]): KeyPairPem;
}

function cert(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

const notAfter = (c: X509Certificate) => Date.parse(c.validTo);
/** certs are backdated by one hour (see certs.ts); this is when one was made */
const createdAt = (c: X509Certificate) => Date.parse(c.validFrom) + 60 * 60 * 1000;

function sansMatch(c: X509Certificate, hosts: readonly string[]): boolean {
  const names = (c.subjectAltName ?? '').split(', ').map((n) => n.replace(/^DNS:/, '').replace(/^IP Address:/, ''));
  return hosts.every((h) => names.includes(h));
}

function fresh(now: Date, hosts: readonly string[], factory: CertFactory): StoredTls {
  const ca = factory.newCa(now);
  const tls = factory.issue(ca, now, hosts);
  return { caCert: ca.certPem, caKey: ca.keyPem, tlsCert: tls.certPem, tlsKey: tls.keyPem };
}

/** The next Secret content, or null when `current` needs no change. */
export function planTls(
  current: StoredTls | null,
  now: Date,
  hosts: readonly string[],
  policy: RotationPolicy,
  factory: CertFactory,
): StoredTls | null {
  const t = now.getTime();
  const ca = cert(current?.caCert);
  if (!current || !ca || notAfter(ca) <= t) return fresh(now, hosts, factory);
  let state: StoredTls = current;
  let changed = false;
  const set = (next: StoredTls) => {
    state = next;
    changed = true;
  };

  const previous = cert(state.previousCaCert);
  if (state.previousCaCert !== undefined && (!previous || notAfter(previous) <= t)) {
    const { previousCaCert: _dropped, ...rest } = state;
    set(rest);
  }

  let next = cert(state.nextCaCert);
  if (state.nextCaCert !== undefined && (!next || !state.nextCaKey)) {
    const { nextCaCert: _c, nextCaKey: _k, ...rest } = state;
    set(rest);
    next = undefined;
  }
  if (!next && notAfter(ca) - t < policy.caRenewBeforeMs) {
    const staged = factory.newCa(now);
    set({ ...state, nextCaCert: staged.certPem, nextCaKey: staged.keyPem });
  } else if (next && state.nextCaKey && createdAt(next) + policy.stageMs <= t) {
    const { nextCaCert: _c, nextCaKey: _k, ...rest } = state;
    const promoted = { certPem: state.nextCaCert ?? '', keyPem: state.nextCaKey };
    const tls = factory.issue(promoted, now, hosts);
    set({ ...rest, caCert: promoted.certPem, caKey: promoted.keyPem, previousCaCert: state.caCert, tlsCert: tls.certPem, tlsKey: tls.keyPem });
    return state;
  }

  const serving = cert(state.tlsCert);
  const signingCa = cert(state.caCert);
  const healthy =
    serving &&
    signingCa &&
    serving.checkIssued(signingCa) &&
    notAfter(serving) - t >= policy.certRenewBeforeMs &&
    sansMatch(serving, hosts);
  if (!healthy) {
    const tls = factory.issue({ certPem: state.caCert, keyPem: state.caKey }, now, hosts);
    set({ ...state, tlsCert: tls.certPem, tlsKey: tls.keyPem });
  }
  return changed ? state : null;
}

/** Every CA the API server must trust now: signing, staged and retired. */
export function caBundleOf(state: StoredTls): string {
  const pems = [state.caCert, state.nextCaCert, state.previousCaCert].filter((p): p is string => !!p);
  return [...new Set(pems.map((p) => p.trim()))].map((p) => `${p}\n`).join('');
}

const KEYS: ReadonlyArray<[keyof StoredTls, string]> = [
  ['caCert', 'ca.crt'],
  ['caKey', 'ca.key'],
  ['nextCaCert', 'ca-next.crt'],
  ['nextCaKey', 'ca-next.key'],
  ['previousCaCert', 'ca-previous.crt'],
  ['tlsCert', 'tls.crt'],
  ['tlsKey', 'tls.key'],
];

/** StoredTls ↔ Secret `data` (base64 values, Kubernetes key names). */
export function toSecretData(state: StoredTls): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of KEYS) {
    const value = state[field];
    if (value) data[key] = Buffer.from(value).toString('base64');
  }
  return data;
}

export function fromSecretData(data: Readonly<Record<string, string>> | undefined): StoredTls | null {
  const get = (key: string) => (data?.[key] ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
  const caCert = get('ca.crt');
  const caKey = get('ca.key');
  const tlsCert = get('tls.crt');
  const tlsKey = get('tls.key');
  if (!caCert || !caKey || !tlsCert || !tlsKey) return null;
  const optional = (field: keyof StoredTls, key: string) => {
    const v = get(key);
    return v ? { [field]: v } : {};
  };
  return {
    caCert,
    caKey,
    tlsCert,
    tlsKey,
    ...optional('nextCaCert', 'ca-next.crt'),
    ...optional('nextCaKey', 'ca-next.key'),
    ...optional('previousCaCert', 'ca-previous.crt'),
  };
}
