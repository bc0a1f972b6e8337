// What liveness probing costs the leader at 100 holders: the real monitor and TCP prober
// probing 100 holders and 100 next targets (plus its witnesses) every 250 ms, each a distinct
// loopback address (127.0.1.x) answered by one listener, for a fixed time; CPU from
// process.cpuUsage, packets counted per handshake. Loopback only.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createLivenessMetrics } from '../reconciler/liveness/metrics.ts';
import { createLivenessMonitor } from '../reconciler/liveness/monitor.ts';
import type { NodeAddress } from '../reconciler/liveness/monitor.ts';
import { createLogger } from '../shared/logger.ts';
import { probeTcp } from '../shared/tcp-probe.ts';
import { realTimer } from '../shared/timers.ts';

export interface LivenessCost {
  readonly holders: number;
  readonly probedDroplets: number;
  readonly probesPerSecond: number;
  /** packets on the wire per second: SYN, SYN-ACK, ACK, then FIN/ACK both ways (7 per probe) */
  readonly packetsPerSecond: number;
  /** bytes per second at 60–66 bytes per packet (IPv4 + TCP with options), no Ethernet framing */
  readonly bytesPerSecond: number;
  /** the leader's CPU for the probing, % of one core */
  readonly cpuPercent: number;
  readonly rttP50Ms: number;
}

const PACKETS_PER_PROBE = 7;
const BYTES_PER_PACKET = 64;

export async function benchLivenessCost(opts: { holders: number; seconds: number }): Promise<LivenessCost> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  const port = (server.address() as AddressInfo).port;
  const n = opts.holders * 2;
  const nodes: NodeAddress[] = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, dropletId: 1 + i, address: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, ready: true }));
  const registry = new Registry();
  const metrics = createLivenessMetrics(registry);
  const rtts: number[] = [];
  const term = new AbortController();
  const monitor = createLivenessMonitor({
    config: { intervalMs: 250, timeoutMs: 300, indirectProbers: 3, failuresToSuspect: 2, kubeletPort: port, selfNode: undefined },
    probe: async (host, p, timeoutMs, signal) => {
      const r = await probeTcp(host, p, timeoutMs, signal);
      if (r.rttMs !== undefined) rtts.push(r.rttMs);
      return r;
    },
    indirect: async () => 'no-answer',
    targets: () => nodes.map((x) => x.dropletId),
    nodes: () => nodes,
    onChange: () => undefined,
    metrics,
    logger: createLogger({ level: 'silent', name: 'bench' }),
    now: Date.now,
    setTimer: realTimer,
  });
  // a second of warm-up (JIT, first connections), then the measured window
  monitor.start(term.signal);
  await new Promise((r) => setTimeout(r, 1_000));
  const probesBefore = (await registry.getSingleMetric('floatip_liveness_probes_total')?.get())?.values.reduce((s, v) => s + v.value, 0) ?? 0;
  rtts.length = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, opts.seconds * 1_000));
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  const probesAfter = (await registry.getSingleMetric('floatip_liveness_probes_total')?.get())?.values.reduce((s, v) => s + v.value, 0) ?? 0;
  term.abort();
  await new Promise<void>((r) => server.close(() => r()));
  const probesPerSecond = (probesAfter - probesBefore) / elapsedS;
  rtts.sort((a, b) => a - b);
  return {
    holders: opts.holders,
    probedDroplets: n,
    probesPerSecond,
    packetsPerSecond: probesPerSecond * PACKETS_PER_PROBE,
    bytesPerSecond: probesPerSecond * PACKETS_PER_PROBE * BYTES_PER_PACKET,
    // user + system µs over wall µs; includes the listener's accepts (the kernel does the handshake)
    cpuPercent: ((cpu.user + cpu.system) / 1_000 / (elapsedS * 1_000)) * 100,
    rttP50Ms: rtts[Math.floor(rtts.length / 2)] ?? 0,
  };
}

if (import.meta.main) {
  const r = await benchLivenessCost({ holders: 100, seconds: 10 });
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit();
}
