// The client's prober (run inside the client namespace, "the internet"):
//   node prober.ts --target IP [--udp PORT] [--tcp PORT] [--udp-interval-ms 10] [--tcp-interval-ms 100]
//                  [--max-seconds 300] [--max-datagrams 30000] [--tcp-timeout-ms 1000]
// Sends a datagram every interval from one unconnected socket (so a reply from an address the
// client never contacted is still received and recorded) and opens a TCP connection every
// interval. One JSON line per event on stdout, times in epoch ms with sub-ms precision:
//   {"k":"s","seq","t"}                       a datagram sent
//   {"k":"u","seq","t","from","pod","saw"}    its reply: source address, the server's view
//   {"k":"t","t","ok","ms","pod","saw","err"} a TCP attempt (t = when it started)
//   {"k":"end","t"}                           bounds reached, or SIGTERM
// Bounded in count and time whatever its parent does.
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    udp: { type: 'string' },
    tcp: { type: 'string' },
    'udp-interval-ms': { type: 'string', default: '10' },
    'tcp-interval-ms': { type: 'string', default: '100' },
    'tcp-timeout-ms': { type: 'string', default: '1000' },
    'max-seconds': { type: 'string', default: '300' },
    'max-datagrams': { type: 'string', default: '30000' },
  },
});
const target = values.target ?? '';
if (isIP(target) === 0) throw new Error(`--target must be an IP address, got "${target}"`);
const now = () => performance.timeOrigin + performance.now();
const out = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + '\n');
const timers: NodeJS.Timeout[] = [];
const maxDatagrams = Number(values['max-datagrams']);

const socket = createSocket(isIP(target) === 6 ? 'udp6' : 'udp4');
if (values.udp !== undefined) {
  const port = Number(values.udp);
  let seq = 0;
  socket.on('message', (msg, rinfo) => {
    const t = now();
    try {
      const body = JSON.parse(msg.toString('utf8')) as { seq?: string; pod?: string; saw?: string };
      out({ k: 'u', seq: Number(body.seq), t, from: rinfo.address, pod: body.pod, saw: body.saw });
    } catch {
      out({ k: 'u', seq: -1, t, from: rinfo.address });
    }
  });
  socket.bind(0, () => {
    timers.push(
      setInterval(() => {
        if (seq >= maxDatagrams) return finish();
        const s = seq++;
        out({ k: 's', seq: s, t: now() });
        socket.send(String(s), port, target);
      }, Number(values['udp-interval-ms'])),
    );
  });
}

if (values.tcp !== undefined) {
  const port = Number(values.tcp);
  const timeoutMs = Number(values['tcp-timeout-ms']);
  timers.push(
    setInterval(() => {
      const t = now();
      let data = '';
      let settled = false;
      const conn = connect({ host: target, port, timeout: timeoutMs });
      const settle = (ok: boolean, err?: string) => {
        if (settled) return;
        settled = true;
        conn.destroy();
        let body: { pod?: string; saw?: string } = {};
        try {
          body = JSON.parse(data) as typeof body;
        } catch {
          // no complete line: a failure below says why
        }
        out({ k: 't', t, ok: ok && body.saw !== undefined, ms: now() - t, pod: body.pod, saw: body.saw, ...(err ? { err } : {}) });
      };
      conn.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      conn.on('end', () => settle(true));
      conn.on('timeout', () => settle(false, 'timeout'));
      conn.on('error', (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
    }, Number(values['tcp-interval-ms'])),
  );
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  for (const t of timers) clearInterval(t);
  out({ k: 'end', t: now() });
  // let replies in flight arrive, then go
  setTimeout(() => process.exit(0), 200).unref();
  socket.unref();
}
timers.push(setTimeout(finish, Number(values['max-seconds']) * 1000));
process.once('SIGTERM', finish);
process.once('SIGINT', finish);
