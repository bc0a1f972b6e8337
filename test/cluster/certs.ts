// Certificates for a throwaway control plane: one CA signs the API server's serving cert and
// the client certs of the admin and the system components. Keys come from node:crypto
// (native, generated in parallel on the libuv pool) and sign with node:crypto too; node-forge
// only builds the X.509 structures (its pure-JS RSA would add ~1 s per start-up). No openssl.
import { generateKeyPair, randomBytes, sign as rsaSign } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface ControlPlaneCerts {
  readonly ca: Pem;
  readonly apiServer: Pem;
  /** client certs, by user name; all share one key to keep start-up fast */
  readonly clients: Readonly<Record<ClientName, Pem>>;
  /** service-account token signing key pair (not a certificate) */
  readonly serviceAccount: { readonly publicKey: string; readonly privateKey: string };
}

// Users the bootstrap RBAC policy already knows, so each component runs with its own rights.
// kwok keeps admin rights but has a name of its own, so an admission policy can silence it
// for one node (partition.ts) without touching what the tests themselves write.
export const KWOK_USER = 'floatip-test-kwok';
const CLIENTS = {
  admin: { cn: 'floatip-test-admin', org: 'system:masters' },
  controllerManager: { cn: 'system:kube-controller-manager', org: undefined },
  scheduler: { cn: 'system:kube-scheduler', org: undefined },
  kwok: { cn: KWOK_USER, org: 'system:masters' },
} as const;
export type ClientName = keyof typeof CLIENTS;

export interface KeyPair {
  readonly publicKey: string;
  readonly privateKey: string;
}

const generateRsa = promisify(generateKeyPair);
export function rsaKeyPair(): Promise<KeyPair> {
  return generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function newCert(publicKeyPem: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // Random positive serials: identical serials from one issuer make TLS stacks reject certs.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000); // tolerate small clock skew
  cert.validity.notAfter = new Date(now + days * 86_400_000);
  return cert;
}

// What forge's cert.sign() does, with the RSA signature computed natively.
function sign(cert: forge.pki.Certificate, caKeyPem: string): string {
  const oid = forge.pki.oids['sha256WithRSAEncryption'] as string;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  // getTBSCertificate is public in node-forge but missing from its type definitions.
  const pki = forge.pki as typeof forge.pki & { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = pki.getTBSCertificate(cert);
  (cert as forge.pki.Certificate & { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = rsaSign('sha256', der, caKeyPem).toString('binary');
  return forge.pki.certificateToPem(cert);
}

export interface CertAuthority {
  readonly pem: Pem;
  /** a serving cert for `hosts` (DNS names or IP literals) signed by this CA */
  serving(commonName: string, hosts: readonly string[], keyPair: KeyPair): Pem;
  /** a client cert for user `cn` in groups `orgs` */
  client(cn: string, orgs: readonly string[], keyPair: KeyPair): Pem;
}

export async function createCertAuthority(commonName = 'floatip-test-ca', caKeys?: KeyPair): Promise<CertAuthority> {
  caKeys ??= await rsaKeyPair();
  const caCert = newCert(caKeys.publicKey, 2);
  const caSubject = [{ name: 'commonName', value: commonName }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const ca: Pem = { cert: sign(caCert, caKeys.privateKey), key: caKeys.privateKey };

  function leaf(subject: forge.pki.CertificateField[], extensions: object[], keys: KeyPair): Pem {
    const cert = newCert(keys.publicKey, 1);
    cert.setSubject(subject);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([{ name: 'basicConstraints', cA: false }, ...extensions]);
    return { cert: sign(cert, ca.key), key: keys.privateKey };
  }

  return {
    pem: ca,
    serving(cn, hosts, keyPair) {
      const altNames = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 7, ip: h } : { type: 2, value: h }));
      return leaf(
        [{ name: 'commonName', value: cn }],
        [
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames },
        ],
        keyPair,
      );
    },
    client(cn, orgs, keyPair) {
      const subject: forge.pki.CertificateField[] = [
        { name: 'commonName', value: cn },
        ...orgs.map((o) => ({ name: 'organizationName', value: o })),
      ];
      return leaf(
        subject,
        [
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', clientAuth: true },
        ],
        keyPair,
      );
    },
  };
}

export async function generateControlPlaneCerts(): Promise<ControlPlaneCerts> {
  const [caKeys, servingKeys, clientKeys, serviceAccount] = await Promise.all([
    rsaKeyPair(),
    rsaKeyPair(),
    rsaKeyPair(),
    rsaKeyPair(),
  ]);
  const ca = await createCertAuthority('floatip-test-ca', caKeys);
  const apiServer = ca.serving('kube-apiserver', [
    '127.0.0.1',
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
    '10.96.0.1',
  ], servingKeys);
  const clients = Object.fromEntries(
    Object.entries(CLIENTS).map(([name, { cn, org }]) => [name, ca.client(cn, org ? [org] : [], clientKeys)]),
  ) as Record<ClientName, Pem>;
  return { ca: ca.pem, apiServer, clients, serviceAccount };
}
