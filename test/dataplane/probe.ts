// The parent's side of the prober (prober.ts runs inside the client namespace): its events
// as they arrive, waits on them, and the record for outage().
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProbeRecord, TcpAttempt, UdpReply, UdpSend } from './outage.ts';

export const PROBER = fileURLToPath(new URL('./prober.ts', import.meta.url));

export interface ProbeOptions {
  /** the address the client sends to (a reserved IP) */
  readonly target: string;
  readonly udpPort?: number;
  readonly tcpPort?: number;
  readonly udpIntervalMs?: number;
  readonly tcpIntervalMs?: number;
  /** the prober stops by itself after this long (default 300 s) */
  readonly maxSeconds?: number;
}

export interface Probe {
  readonly target: string;
  readonly record: { readonly sends: UdpSend[]; readonly replies: UdpReply[]; readonly tcp: TcpAttempt[] };
  /** the first UDP reply from now on that satisfies `pred` */
  nextReply(pred: (r: UdpReply) => boolean, timeoutMs?: number): Promise<UdpReply>;
  /** the first TCP attempt from now on that satisfies `pred` */
  nextTcp(pred: (a: TcpAttempt) => boolean, timeoutMs?: number): Promise<TcpAttempt>;
  stop(): Promise<ProbeRecord>;
}

export function startProbe(clientNs: string, opts: ProbeOptions): Probe {
  const args = [
    PROBER,
    '--target',
    opts.target,
    ...(opts.udpPort === undefined ? [] : ['--udp', String(opts.udpPort)]),
    ...(opts.tcpPort === undefined ? [] : ['--tcp', String(opts.tcpPort)]),
    '--udp-interval-ms',
    String(opts.udpIntervalMs ?? 10),
    '--tcp-interval-ms',
    String(opts.tcpIntervalMs ?? 100),
    '--max-seconds',
    String(opts.maxSeconds ?? 300),
  ];
  const child = spawn('ip', ['netns', 'exec', clientNs, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const record = { sends: [] as UdpSend[], replies: [] as UdpReply[], tcp: [] as TcpAttempt[] };
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  createInterface(child.stdout).on('line', (line) => {
    const e = JSON.parse(line) as { k: string } & Record<string, unknown>;
    if (e.k === 's') record.sends.push(e as unknown as UdpSend);
    else if (e.k === 'u') record.replies.push(e as unknown as UdpReply);
    else if (e.k === 't') record.tcp.push(e as unknown as TcpAttempt);
    for (const l of listeners) l();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const l of listeners) l();
  });

  function next<T>(list: T[], pred: (x: T) => boolean, what: string, timeoutMs: number): Promise<T> {
    const start = list.length;
    return new Promise((resolve, reject) => {
      let seen = start;
      const check = () => {
        for (; seen < list.length; seen++) {
          const x = list[seen] as T;
          if (pred(x)) return done(() => resolve(x));
        }
        if (gone) done(() => reject(new Error(`the prober exited before ${what}${stderr ? `: ${stderr.trim()}` : ''}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${timeoutMs} ms (target ${opts.target})`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });
  }

  return {
    target: opts.target,
    record,
    nextReply: (pred, timeoutMs = 30_000) => next(record.replies, pred, 'matching UDP reply', timeoutMs),
    nextTcp: (pred, timeoutMs = 30_000) => next(record.tcp, pred, 'matching TCP attempt', timeoutMs),
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
      return record;
    },
  };
}
