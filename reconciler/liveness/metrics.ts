// Liveness metrics, in the reconciler's registry. The moves they cause are
// floatip_ip_moves_total{reason="holder-unreachable"}.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface LivenessMetrics {
  /** direct probes by result: reached or failed (sent = the sum) */
  readonly probes: Counter<'result'>;
  /** TCP handshake round trip of direct probes that reached their droplet */
  readonly rttSeconds: Histogram;
  /** indirect probe answers by answer: reached, unreached, no-answer */
  readonly indirect: Counter<'answer'>;
  readonly suspicions: Counter;
  /** suspicions that cleared (label by: direct or indirect) */
  readonly cleared: Counter<'by'>;
  /** droplets confirmed dead by indirect probes */
  readonly confirmedDead: Counter;
  /** droplets probed now (holders, next targets, witnesses) */
  readonly probed: Gauge;
  /** 1 while more than half of the probed droplets fail this leader's probes (no droplet is confirmed dead) */
  readonly guard: Gauge;
}

export function createLivenessMetrics(registry: Registry): LivenessMetrics {
  const registers = [registry];
  return {
    probes: new Counter({ name: 'floatip_liveness_probes_total', help: 'Direct liveness probes (TCP handshakes to the kubelet port) by result', labelNames: ['result'], registers }),
    rttSeconds: new Histogram({
      name: 'floatip_liveness_probe_rtt_seconds',
      help: 'Round trip of the TCP handshake of a direct liveness probe',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    indirect: new Counter({ name: 'floatip_liveness_indirect_probes_total', help: 'Indirect probe answers from agents on other nodes, by answer', labelNames: ['answer'], registers }),
    suspicions: new Counter({ name: 'floatip_liveness_suspicions_total', help: 'Droplets suspected after consecutive failed probes', registers }),
    cleared: new Counter({ name: 'floatip_liveness_suspicions_cleared_total', help: 'Suspicions cleared, by who reached the droplet (direct or indirect)', labelNames: ['by'], registers }),
    confirmedDead: new Counter({ name: 'floatip_liveness_confirmed_dead_total', help: 'Droplets confirmed dead: no prober reached them and at least one answered', registers }),
    probed: new Gauge({ name: 'floatip_liveness_probed_droplets', help: 'Droplets probed now: holders, next targets and witnesses', registers }),
    guard: new Gauge({ name: 'floatip_liveness_guard', help: '1 while this leader fails to reach more than half of the droplets it probes: nothing is confirmed dead', registers }),
  };
}
