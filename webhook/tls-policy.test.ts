// TLS policy of the webhook, with node:tls clients on 127.0.0.1: a TLS 1.2 client offering
// only a suite without forward secrecy or without AEAD is refused (also after a certificate
// reload); the ECDHE+AEAD suites and TLS 1.3 are accepted. Each weak suite is first shown to
// work against a permissive server, so a refusal is the policy, not the client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:tls';
import type { Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateLoopbackTls } from './tls/certs.ts';
import type { LoopbackTls } from './tls/certs.ts';
import { startWebhookServer } from './server.ts';
import type { RunningWebhookServer } from './server.ts';

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; error: string };

function handshake(port: number, ca: string, opts: { ciphers?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => {
      const result = { ok: true as const, protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.on('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

let tls: LoopbackTls;
let webhook: RunningWebhookServer;
let permissive: Server;
let permissivePort: number;

before(async () => {
  tls = generateLoopbackTls();
  webhook = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem } });
  permissive = createServer({ cert: tls.certPem, key: tls.keyPem, ciphers: 'ALL:@SECLEVEL=0', dhparam: 'auto', minVersion: 'TLSv1.2' }, (s) => s.end());
  permissive.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => permissive.listen(0, '127.0.0.1', resolve));
  permissivePort = (permissive.address() as AddressInfo).port;
});
after(async () => {
  await webhook.close({ graceMs: 100 });
  await new Promise((resolve) => permissive.close(resolve));
});

// [suite, why it is weak]
const weak: ReadonlyArray<readonly [string, string]> = [
  ['AES128-SHA', 'RSA key exchange, CBC, SHA-1'],
  ['AES256-GCM-SHA384', 'RSA key exchange (no forward secrecy)'],
  ['AES128-GCM-SHA256', 'RSA key exchange (no forward secrecy)'],
  ['ECDHE-RSA-AES128-SHA', 'CBC with SHA-1'],
  ['ECDHE-RSA-AES256-SHA384', 'CBC'],
  ['DHE-RSA-AES128-GCM-SHA256', 'finite-field DHE, not ECDHE'],
];
const good = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'];

async function checkPolicy(): Promise<void> {
  for (const [suite, why] of weak) {
    const offered = { ciphers: `${suite}:@SECLEVEL=0`, maxVersion: 'TLSv1.2' as const };
    const control = await handshake(permissivePort, tls.caPem, offered);
    assert.deepEqual(control, { ok: true, protocol: 'TLSv1.2', cipher: suite }, `the client cannot even offer ${suite}`);
    const answer = await handshake(webhook.port, tls.caPem, offered);
    assert.equal(answer.ok, false, `${suite} (${why}) was accepted`);
  }
  for (const suite of good) {
    assert.deepEqual(await handshake(webhook.port, tls.caPem, { ciphers: suite, maxVersion: 'TLSv1.2' }), { ok: true, protocol: 'TLSv1.2', cipher: suite });
  }
  const v13 = await handshake(webhook.port, tls.caPem, {});
  assert.equal(v13.ok && v13.protocol, 'TLSv1.3');
}

test('TLS 1.2 only with ECDHE and AEAD; TLS 1.3 accepted', async () => {
  await checkPolicy();
});

test('a reloaded certificate keeps the policy', async () => {
  const next = generateLoopbackTls();
  webhook.setTls({ cert: next.certPem, key: next.keyPem });
  tls = { ...tls, caPem: next.caPem, certPem: next.certPem, keyPem: next.keyPem };
  await new Promise<void>((resolve) => permissive.close(() => resolve()));
  permissive = createServer({ cert: next.certPem, key: next.keyPem, ciphers: 'ALL:@SECLEVEL=0', dhparam: 'auto', minVersion: 'TLSv1.2' }, (s) => s.end());
  permissive.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => permissive.listen(0, '127.0.0.1', resolve));
  permissivePort = (permissive.address() as AddressInfo).port;
  await checkPolicy();
});
