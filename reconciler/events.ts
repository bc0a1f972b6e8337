// Kubernetes Events on the pods that claim reserved IPs (`kubectl describe pod` shows them).
// Repeated identical events are aggregated like kubelet does: the first is created, later
// ones within the window bump `count` and `lastTimestamp` with a merge patch. Recording
// never throws into the controller: a failed Event is logged and dropped.
import { PatchStrategy, setHeaderOptions } from './kube/api.ts';
import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';

export const COMPONENT = 'floatip-reconciler';

export interface EventRecord {
  /** the involved object: a Pod, or a Service when `kind` says so */
  readonly pod: Pick<V1Pod, 'metadata'>;
  /** kind of the involved object; default Pod. A Node's Events go to namespace default, as kubelet's */
  readonly kind?: 'Pod' | 'Service' | 'Node';
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface EventSink {
  record(e: EventRecord): Promise<void>;
}

export type EventsApi = Pick<CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

interface Sent {
  readonly name: string;
  readonly namespace: string;
  count: number;
  lastMs: number;
}

export function createKubernetesEventSink(opts: {
  api: EventsApi;
  logger: Logger;
  /** pod name of this replica, shown as the reporting instance */
  instance?: string;
  /** identical events within this window are aggregated (default 10 minutes) */
  aggregateWindowMs?: number;
  now?: () => number;
}): EventSink {
  const now = opts.now ?? Date.now;
  const windowMs = opts.aggregateWindowMs ?? 10 * 60_000;
  const instance = opts.instance ?? COMPONENT;
  const sent = new Map<string, Sent>();
  let seq = 0;

  function forget(t: number): void {
    if (sent.size < 1000) return;
    for (const [key, s] of sent) if (t - s.lastMs >= windowMs) sent.delete(key);
  }

  async function bump(s: Sent, t: number): Promise<boolean> {
    try {
      await opts.api.patchNamespacedEvent(
        { name: s.name, namespace: s.namespace, body: { count: s.count + 1, lastTimestamp: new Date(t).toISOString() } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      s.count += 1;
      s.lastMs = t;
      return true;
    } catch {
      return false; // expired or deleted: create a fresh one
    }
  }

  async function create(e: EventRecord, key: string, t: number): Promise<void> {
    const meta = e.pod.metadata ?? {};
    const namespace = meta.namespace ?? 'default';
    // kubelet-style unique name: <object>.<hex nanoseconds>
    // the counter keeps two Events recorded in the same millisecond apart
    const name = `${meta.name ?? (e.kind ?? 'Pod').toLowerCase()}.${(BigInt(t) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16)}`;
    const at = new Date(t);
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: { apiVersion: 'v1', kind: e.kind ?? 'Pod', ...(e.kind === 'Node' ? {} : { namespace }), name: meta.name, uid: meta.uid, resourceVersion: meta.resourceVersion },
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: instance,
    };
    await opts.api.createNamespacedEvent({ namespace, body });
    sent.set(key, { name, namespace, count: 1, lastMs: t });
  }

  return {
    async record(e) {
      const t = now();
      const key = [e.pod.metadata?.uid, e.type, e.reason, e.message].join('\n');
      try {
        const previous = sent.get(key);
        if (previous && t - previous.lastMs < windowMs && (await bump(previous, t))) return;
        forget(t);
        await create(e, key, t);
      } catch (err) {
        opts.logger.warn(
          { err, reason: e.reason, namespace: e.pod.metadata?.namespace, name: e.pod.metadata?.name },
          'could not record Kubernetes Event',
        );
      }
    },
  };
}
