/* global process, Buffer, URL, setInterval */
// Node's own floor, for the footprint benchmark: a Node process that keeps one HTTPS
// connection to the API server (GET every 5 s with the agent's credentials), or with --idle
// nothing at all — started beside the agents with the agent's node flags. The agent's figure
// minus this one is what the agent's own code costs. Plain JavaScript, so no TypeScript
// stripping is loaded; builtins come from process.getBuiltinModule, as in the product.
const { readFileSync } = process.getBuiltinModule('node:fs');
const https = process.getBuiltinModule('node:https');

if (process.argv[2] === '--idle') {
  setInterval(() => undefined, 60_000);
} else {
  const kc = JSON.parse(readFileSync(process.env.KUBECONFIG ?? '', 'utf8'));
  const cluster = kc.clusters[0].cluster;
  const token = kc.users[0].user.token;
  const server = new URL(cluster.server);
  const agent = new https.Agent({ keepAlive: true, ca: Buffer.from(cluster['certificate-authority-data'], 'base64') });
  const get = () =>
    https
      .get({ agent, host: server.hostname, port: server.port, path: process.argv[2] ?? '/version', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => res.resume())
      .on('error', (err) => process.stderr.write(`footprint-floor: ${err.message}\n`));
  get();
  setInterval(get, 5_000);
}
process.stdout.write(`${JSON.stringify({ msg: 'floor ready' })}\n`);
