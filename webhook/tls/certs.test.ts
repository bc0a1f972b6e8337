import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { createCertificateAuthority, generateLoopbackTls, issueServingCertificate, serviceDnsNames } from './certs.ts';

const DAY = 24 * 60 * 60 * 1000;
const now = new Date('2026-11-25T12:00:00Z');

test('serviceDnsNames lists every form of the service name', () => {
  assert.deepEqual(serviceDnsNames('floatip-webhook', 'floatip-system'), [
    'floatip-webhook',
    'floatip-webhook.floatip-system',
    'floatip-webhook.floatip-system.svc',
    'floatip-webhook.floatip-system.svc.cluster.local',
  ]);
});

test('the serving certificate chains to the CA, names every service DNS form, and has the asked validity', () => {
  const ca = createCertificateAuthority({ now, validityMs: 365 * DAY });
  const hosts = serviceDnsNames('floatip-webhook', 'floatip-system');
  const serving = issueServingCertificate(ca, { now, validityMs: 90 * DAY, hosts });
  const caCert = new X509Certificate(ca.certPem);
  const cert = new X509Certificate(serving.certPem);

  assert.equal(caCert.ca, true);
  assert.equal(cert.ca, false);
  assert.equal(cert.checkIssued(caCert), true);
  assert.equal(cert.verify(caCert.publicKey), true);
  assert.equal(caCert.verify(caCert.publicKey), true);
  assert.equal(cert.subjectAltName, hosts.map((h) => `DNS:${h}`).join(', '));
  assert.equal(cert.subject, 'CN=floatip-webhook');
  assert.equal(cert.checkHost('floatip-webhook.floatip-system.svc'), 'floatip-webhook.floatip-system.svc');
  assert.equal(new Date(cert.validFrom).toISOString(), '2026-11-25T11:00:00.000Z');
  assert.equal(new Date(cert.validTo).toISOString(), '2027-02-23T12:00:00.000Z');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  // the key in the pair is the certificate's key
  assert.equal(
    createPublicKey(createPrivateKey(serving.keyPem)).export({ type: 'spki', format: 'pem' }),
    cert.publicKey.export({ type: 'spki', format: 'pem' }),
  );
});

test('a serving certificate never outlives its CA', () => {
  const ca = createCertificateAuthority({ now, validityMs: 10 * DAY });
  const serving = issueServingCertificate(ca, { now, validityMs: 90 * DAY, hosts: ['a'] });
  assert.equal(new X509Certificate(serving.certPem).validTo, new X509Certificate(ca.certPem).validTo);
});

test('serials are random and positive; another CA does not verify the cert', () => {
  const a = createCertificateAuthority({ now, validityMs: DAY });
  const b = createCertificateAuthority({ now, validityMs: DAY });
  const sa = new X509Certificate(a.certPem).serialNumber;
  const sb = new X509Certificate(b.certPem).serialNumber;
  assert.notEqual(sa, sb);
  assert.equal(sa.length, 32);
  assert.ok(parseInt(sa.slice(0, 1), 16) < 8, sa);
  const serving = issueServingCertificate(a, { now, validityMs: DAY, hosts: ['x'] });
  assert.equal(new X509Certificate(serving.certPem).checkIssued(new X509Certificate(b.certPem)), false);
  assert.equal(new X509Certificate(serving.certPem).verify(new X509Certificate(b.certPem).publicKey), false);
});

test('generateLoopbackTls covers localhost and both loopback IPs', () => {
  const tls = generateLoopbackTls();
  const cert = new X509Certificate(tls.certPem);
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(cert.checkIssued(new X509Certificate(tls.caPem)), true);
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
});

test('no hosts is an error', () => {
  const ca = createCertificateAuthority({ now, validityMs: DAY });
  assert.throws(() => issueServingCertificate(ca, { now, validityMs: DAY, hosts: [] }), /at least one host name/);
});
