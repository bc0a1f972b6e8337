// The servers of the webhook throughput benchmark, run in a worker thread so they have an
// event loop (and a core) of their own, apart from the load generator's: the real webhook
// server (express, validate/mutate, metrics) and a bare node:https server that echoes each
// request body, the floor any HTTPS webhook in Node could reach. Same certificate, same TLS
// settings. The parent gets { webhookUrl, echoUrl, caPem } and sends 'close' when done.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { startWebhookServer } from '../webhook/server.ts';
import { generateLoopbackTls } from '../webhook/tls/certs.ts';

export interface ServerUrls {
  readonly webhookUrl: string;
  readonly echoUrl: string;
  readonly caPem: string;
}

async function serve(): Promise<void> {
  if (!parentPort) throw new Error('bench/webhook-servers.ts runs as a worker thread of bench/webhook-throughput.ts');
  const port = parentPort;
  const tls = generateLoopbackTls();
  const webhook = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem } });
  const echo = createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const echoUrl = `https://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  port.on('message', (message) => {
    if (message !== 'close') return;
    echo.closeAllConnections();
    echo.close();
    void webhook.close({ graceMs: 0 }).then(() => port.close());
  });
  port.postMessage({ webhookUrl: webhook.url, echoUrl, caPem: tls.caPem } satisfies ServerUrls);
}

await serve();
