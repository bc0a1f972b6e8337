import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from './certs.ts';
import { caBundleOf, fromSecretData, planTls, toSecretData } from './rotation.ts';
import type { CertFactory, RotationPolicy, StoredTls } from './rotation.ts';

const DAY = 24 * 60 * 60 * 1000;
const MIN = 60 * 1000;
const policy: RotationPolicy = { caValidityMs: 10 * DAY, certValidityMs: 5 * DAY, caRenewBeforeMs: 3 * DAY, certRenewBeforeMs: 1 * DAY, stageMs: 10 * MIN };
const hosts = serviceDnsNames('floatip-webhook', 'floatip-system');
const t0 = new Date('2026-11-25T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

// Counts what the plan asked for, so "no change" means no certificate was made.
function factory() {
  const made = { cas: 0, certs: 0 };
  const f: CertFactory = {
    newCa: (now) => {
      made.cas++;
      return createCertificateAuthority({ now, validityMs: policy.caValidityMs });
    },
    issue: (ca, now, h) => {
      made.certs++;
      return issueServingCertificate(ca, { now, validityMs: policy.certValidityMs, hosts: h });
    },
  };
  return { f, made };
}

const issuedBy = (certPem: string, caPem: string) => new X509Certificate(certPem).checkIssued(new X509Certificate(caPem));

test('from nothing: a CA and a serving cert it signed; planning again changes nothing', () => {
  const { f, made } = factory();
  const s = planTls(null, t0, hosts, policy, f);
  assert.ok(s);
  assert.equal(issuedBy(s.tlsCert, s.caCert), true);
  assert.equal(new X509Certificate(s.tlsCert).subjectAltName, hosts.map((h) => `DNS:${h}`).join(', '));
  assert.equal(caBundleOf(s), `${s.caCert.trim()}\n`);
  assert.equal(planTls(s, at(DAY), hosts, policy, f), null);
  assert.deepEqual(made, { cas: 1, certs: 1 });
});

test('a serving cert near expiry, or with missing names, is reissued by the same CA', () => {
  const { f, made } = factory();
  const s = planTls(null, t0, hosts, policy, f) as StoredTls;
  const renewed = planTls(s, at(4 * DAY + MIN), hosts, policy, f);
  assert.ok(renewed);
  assert.equal(renewed.caCert, s.caCert);
  assert.notEqual(renewed.tlsCert, s.tlsCert);
  assert.equal(issuedBy(renewed.tlsCert, s.caCert), true);
  const moreHosts = planTls(s, at(DAY), [...hosts, 'extra.example'], policy, f);
  assert.ok(moreHosts);
  assert.match(new X509Certificate(moreHosts.tlsCert).subjectAltName ?? '', /DNS:extra\.example$/);
  assert.deepEqual(made, { cas: 1, certs: 3 });
});

test('CA rotation: staged (trusted, not signing), promoted after stageMs with the old CA kept, old CA dropped at expiry', () => {
  const { f } = factory();
  // day 4: the first serving cert (5 days) is renewed; the new one lasts until day 9
  const s0 = planTls(planTls(null, t0, hosts, policy, f), at(4 * DAY + MIN), hosts, policy, f) as StoredTls;
  // 7 days + 1 min: the CA has < 3 days left → stage a new one; the serving cert is untouched
  const staged = planTls(s0, at(7 * DAY + MIN), hosts, policy, f);
  assert.ok(staged?.nextCaCert && staged.nextCaKey);
  assert.equal(staged.caCert, s0.caCert);
  assert.equal(staged.tlsCert, s0.tlsCert);
  assert.equal(caBundleOf(staged), `${s0.caCert.trim()}\n${staged.nextCaCert.trim()}\n`);
  // still inside the stage window: nothing to do
  assert.equal(planTls(staged, at(7 * DAY + 5 * MIN), hosts, policy, f), null);
  // after the stage window: the new CA signs, the old one stays trusted
  const promoted = planTls(staged, at(7 * DAY + 12 * MIN), hosts, policy, f);
  assert.ok(promoted);
  assert.equal(promoted.caCert, staged.nextCaCert);
  assert.equal(promoted.previousCaCert, s0.caCert);
  assert.equal(promoted.nextCaCert, undefined);
  assert.equal(issuedBy(promoted.tlsCert, promoted.caCert), true);
  assert.equal(caBundleOf(promoted), `${promoted.caCert.trim()}\n${s0.caCert.trim()}\n`);
  // the old CA expires at day 10: it leaves the bundle
  const cleaned = planTls(promoted, at(10 * DAY + MIN), hosts, policy, f);
  assert.ok(cleaned);
  assert.equal(cleaned.previousCaCert, undefined);
  assert.equal(cleaned.caCert, promoted.caCert);
  assert.equal(cleaned.tlsCert, promoted.tlsCert);
});

test('an expired or unreadable CA starts over', () => {
  const { f, made } = factory();
  const s = planTls(null, t0, hosts, policy, f) as StoredTls;
  const late = planTls(s, at(11 * DAY), hosts, policy, f);
  assert.ok(late);
  assert.notEqual(late.caCert, s.caCert);
  assert.ok(planTls({ ...s, caCert: 'garbage' }, t0, hosts, policy, f));
  assert.deepEqual(made, { cas: 3, certs: 3 });
});

test('Secret data round trip uses the Kubernetes key names', () => {
  const s: StoredTls = { caCert: 'A', caKey: 'B', tlsCert: 'C', tlsKey: 'D', previousCaCert: 'E' };
  const data = toSecretData(s);
  assert.deepEqual(Object.keys(data).sort(), ['ca-previous.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  assert.equal(data['tls.crt'], Buffer.from('C').toString('base64'));
  assert.deepEqual(fromSecretData(data), s);
  assert.equal(fromSecretData({ 'tls.crt': 'QQ==' }), null);
  assert.equal(fromSecretData(undefined), null);
});
