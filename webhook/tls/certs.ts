// A small CA and the serving certificate it signs, for the API server → webhook hop.
// RSA keys come from node:crypto (native, milliseconds); node-forge builds and signs the
// X.509 certificates. Serials are random (a fixed serial makes two CAs' certs collide in
// caches), and the serving cert names every DNS form the API server may dial.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type forgeModule from 'node-forge';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { generateKeyPairSync, randomBytes } = process.getBuiltinModule('node:crypto');

// node-forge (~5 MiB once loaded) only when a certificate is made: a webhook replica that
// finds a valid Secret never loads it. It is CommonJS, so a synchronous require works.
let loaded: typeof forgeModule | undefined;
const lib = (): typeof forgeModule => (loaded ??= createRequire(import.meta.url)('node-forge') as typeof forgeModule);

export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertOptions {
  readonly now?: Date;
  /** validity in milliseconds from `now` */
  readonly validityMs: number;
}

/** Certificates start a little in the past so a node whose clock lags still accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;

function newKeyPair(): { publicKey: forgeModule.pki.rsa.PublicKey; privateKey: forgeModule.pki.rsa.PrivateKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = lib().pki.privateKeyFromPem(keyPem) as forgeModule.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: lib().pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem };
}

/** 16 random bytes with the top bit clear: a positive DER integer, unique in practice. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function baseCert(publicKey: forgeModule.pki.rsa.PublicKey, opts: CertOptions): forgeModule.pki.Certificate {
  const now = opts.now ?? new Date();
  const cert = lib().pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime() + opts.validityMs);
  return cert;
}

export function createCertificateAuthority(opts: CertOptions & { commonName?: string }): KeyPairPem {
  const keys = newKeyPair();
  const cert = baseCert(keys.publicKey, opts);
  const subject = [{ name: 'commonName', value: opts.commonName ?? 'floatip-webhook-ca' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, lib().md.sha256.create());
  return { certPem: lib().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** `hosts` are DNS names or IP literals; the first one is also the common name. */
export function issueServingCertificate(ca: KeyPairPem, opts: CertOptions & { hosts: readonly string[] }): KeyPairPem {
  if (opts.hosts.length === 0) throw new Error('a serving certificate needs at least one host name');
  const caCert = lib().pki.certificateFromPem(ca.certPem);
  const caKey = lib().pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeyPair();
  const cert = baseCert(keys.publicKey, opts);
  // Never outlive the CA: a chain with an expired issuer fails anyway, and renewal keys off this date.
  if (cert.validity.notAfter > caCert.validity.notAfter) cert.validity.notAfter = caCert.validity.notAfter;
  cert.setSubject([{ name: 'commonName', value: opts.hosts[0] ?? '' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = opts.hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, lib().md.sha256.create());
  return { certPem: lib().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** Every name the API server may use for `service.namespace`: name, name.ns, name.ns.svc, name.ns.svc.<domain>. */
export function serviceDnsNames(service: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

export interface LoopbackTls extends KeyPairPem {
  /** the CA certificate: the `caBundle` for a webhook configuration, or `ca` for a client */
  readonly caPem: string;
}

/** A fresh CA and a serving cert for 127.0.0.1, ::1 and localhost: for tests and local runs. */
export function generateLoopbackTls(opts: { validityMs?: number; now?: Date } = {}): LoopbackTls {
  const validityMs = opts.validityMs ?? 24 * 60 * 60 * 1000;
  const base = { validityMs, ...(opts.now ? { now: opts.now } : {}) };
  const ca = createCertificateAuthority(base);
  const serving = issueServingCertificate(ca, { ...base, hosts: ['localhost', '127.0.0.1', '::1'] });
  return { caPem: ca.certPem, ...serving };
}
