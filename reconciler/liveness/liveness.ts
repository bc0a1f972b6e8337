// Liveness as the reconciler process runs it: the node directory (droplet → InternalIP, kept
// from node events), the key (read or created at the start of each term, retried until it
// is there — without it indirect probes prove nothing, so nothing is confirmed dead), and
// the monitor, which runs while this replica leads.
import type { V1Node } from '@kubernetes/client-node';
import type { Logger } from '../../shared/logger.ts';
import { probeTcp } from '../../shared/tcp-probe.ts';
import type { TcpProber } from '../../shared/tcp-probe.ts';
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';
import { dropletIdOf } from '../snapshot.ts';
import { createIndirectProber } from './indirect.ts';
import type { IndirectProber } from './indirect.ts';
import type { LivenessMetrics } from './metrics.ts';
import { createLivenessMonitor } from './monitor.ts';
import type { LivenessConfig, LivenessMonitor, NodeAddress } from './monitor.ts';

const KEY_RETRY_MS = 5_000;

export interface LivenessDeps {
  readonly config: LivenessConfig & { readonly agentPort: number };
  /** reads (or creates) the key; throws when it cannot */
  readonly loadKey: () => Promise<Buffer>;
  readonly targets: () => Iterable<number>;
  /** droplets whose node Lease went quiet (the guard does not count them) */
  readonly quiet?: () => ReadonlySet<number>;
  readonly onChange: (dead: ReadonlyMap<number, number>) => void;
  readonly metrics: LivenessMetrics;
  readonly logger: Logger;
  readonly probe?: TcpProber;
  readonly indirect?: IndirectProber;
  readonly now?: () => number;
  readonly setTimer?: SetTimer;
}

export interface Liveness {
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
  /** run for one leadership term */
  start(signal: AbortSignal): void;
  /** the holders changed (a term's first DigitalOcean list): probe them now */
  holdersListed(): void;
  readonly monitor: LivenessMonitor;
}

export function nodeAddressOf(node: V1Node): NodeAddress | undefined {
  const name = node.metadata?.name;
  const dropletId = dropletIdOf(node.spec?.providerID);
  const address = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return name && dropletId !== null && address ? { name, dropletId, address, ready } : undefined;
}

export function createLiveness(deps: LivenessDeps): Liveness {
  const setTimer = deps.setTimer ?? realTimer;
  const log = deps.logger;
  const nodes = new Map<string, NodeAddress>();
  let key: Buffer | undefined;
  const monitor = createLivenessMonitor({
    config: deps.config,
    probe: deps.probe ?? probeTcp,
    indirect: deps.indirect ?? createIndirectProber({ agentPort: deps.config.agentPort, key: () => key }),
    targets: deps.targets,
    nodes: () => nodes.values(),
    ...(deps.quiet ? { quiet: deps.quiet } : {}),
    onChange: deps.onChange,
    metrics: deps.metrics,
    logger: log,
    now: deps.now ?? Date.now,
    setTimer,
  });

  function loadKey(signal: AbortSignal): void {
    deps.loadKey().then(
      (k) => {
        if (signal.aborted) return;
        key = k;
      },
      (err: unknown) => {
        if (signal.aborted) return;
        log.warn({ err, retryInMs: KEY_RETRY_MS }, 'liveness: cannot read or create the indirect-probe key; no holder is confirmed dead by probes until it is there');
        setTimer(() => loadKey(signal), KEY_RETRY_MS);
      },
    );
  }

  return {
    nodeChanged(node, old) {
      const name = (node ?? old)?.metadata?.name;
      if (!name) return;
      const entry = node && nodeAddressOf(node);
      if (entry) nodes.set(name, entry);
      else nodes.delete(name);
    },
    start(signal) {
      if (!key) loadKey(signal);
      // The first probes go out now: a new leader judges the holders it inherits at once.
      monitor.start(signal);
    },
    holdersListed: () => monitor.probeNow(),
    monitor,
  };
}
