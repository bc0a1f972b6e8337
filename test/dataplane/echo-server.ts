// The lab's server process (run inside a pod's, or a droplet's, namespace):
//   node echo-server.ts --name POD [--udp PORT]... [--tcp PORT]... [--bind ADDR]
// UDP: every datagram is answered with {"pod", "saw"} ("saw": the client address and port as
// this socket received them) from the same socket. TCP: on accept it writes that line and
// closes. Prints one JSON line {"listening": [...]} once every port is bound.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { name: { type: 'string' }, udp: { type: 'string', multiple: true }, tcp: { type: 'string', multiple: true }, bind: { type: 'string' } },
});
const name = values.name ?? 'echo';
const bind = values.bind ?? '0.0.0.0';
const family = bind.includes(':') ? 'udp6' : 'udp4';
const listening: string[] = [];

await Promise.all([
  ...(values.udp ?? []).map(
    (port) =>
      new Promise<void>((resolve) => {
        const socket = createSocket(family);
        socket.on('message', (_msg, rinfo) => {
          const reply = JSON.stringify({ pod: name, saw: `${rinfo.address}:${rinfo.port}`, seq: _msg.toString('utf8') });
          socket.send(reply, rinfo.port, rinfo.address);
        });
        socket.bind(Number(port), bind, () => {
          listening.push(`udp/${port}`);
          resolve();
        });
      }),
  ),
  ...(values.tcp ?? []).map(
    (port) =>
      new Promise<void>((resolve) => {
        const server = createServer((conn) => {
          conn.on('error', () => conn.destroy());
          conn.end(JSON.stringify({ pod: name, saw: `${conn.remoteAddress}:${conn.remotePort}` }) + '\n');
        });
        server.listen(Number(port), bind, () => {
          listening.push(`tcp/${port}`);
          resolve();
        });
      }),
  ),
]);
console.log(JSON.stringify({ listening }));
