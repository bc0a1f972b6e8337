// One liveness probe: a TCP handshake to host:port, bounded by a timeout. What answers is the
// droplet's kernel on behalf of the kubelet's port (10250): a SYN-ACK or a RST both prove the
// droplet is up, so a refused connection counts as reached. Only silence (timeout) or an
// ICMP "unreachable" from the path counts as a failure. The reconciler probes holders with it
// directly; agents use it for indirect probes.
import { connect } from 'node:net';

export interface ProbeResult {
  /** the droplet answered (handshake completed, or refused by its kernel) */
  readonly reached: boolean;
  /** handshake round trip in ms (also for a refusal); undefined when not reached */
  readonly rttMs?: number | undefined;
  /** why not reached: 'timeout' or the socket error code */
  readonly error?: string | undefined;
}

/** A prober port: how the liveness monitor probes, a fake in tests. */
export type TcpProber = (host: string, port: number, timeoutMs: number, signal?: AbortSignal) => Promise<ProbeResult>;

/** Answers from the droplet's own kernel: it is up even if nothing listens there. */
const KERNEL_ANSWERS = new Set(['ECONNREFUSED', 'ECONNRESET']);

export const probeTcp: TcpProber = (host, port, timeoutMs, signal) =>
  new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host, port, noDelay: true });
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // destroy() without an error: a completed handshake is closed with a FIN (or RST), nothing is sent.
      socket.destroy();
      resolve(r);
    };
    const rtt = (): number => Math.round((performance.now() - started) * 100) / 100;
    // After an event-loop stall (GC, a starved CPU) the timer phase runs before the I/O
    // phase: a SYN-ACK that arrived in time would lose to the timeout. Deferring the verdict
    // to the check phase lets a connect already waiting be seen first.
    const timer = setTimeout(() => setImmediate(() => finish({ reached: false, error: 'timeout' })), timeoutMs);
    const onAbort = (): void => finish({ reached: false, error: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ reached: true, rttMs: rtt() }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'error';
      finish(KERNEL_ANSWERS.has(code) ? { reached: true, rttMs: rtt() } : { reached: false, error: code });
    });
  });
