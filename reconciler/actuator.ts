// Carries out one planned action through the ReservedIpPort and says what happened as
// outcomes for ip-state.ts `apply` — it keeps no state of its own. Also the operator's
// side: Events, the log line, metrics. Every call carries the leadership term's signal; an
// aborted call rejects and its outcome is dropped by the caller.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import { DoApiError, isAbort } from '../shared/digitalocean/port.ts';
import type { DoErrorClass, ReservedIpPort } from '../shared/digitalocean/port.ts';
import type { EventSink } from './events.ts';
import type { IpMemory, Outcome } from './ip-state.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import type { Action, Family } from './model.ts';

/**
 * What became of the Service write before an assign. Exposure is nice to have before a move
 * (traffic accepted on the new droplet from its first packet), never a reason not to move.
 */
export type ExposeResult =
  /** the Services concerned list the target (or none is concerned) */
  | { readonly kind: 'exposed' }
  /** not confirmed within the bound: the assign goes ahead, the Service catches up */
  | { readonly kind: 'not-confirmed'; readonly waitedMs: number }
  /** the API server refused the Service write (admission policy, RBAC...): its own outcome */
  | { readonly kind: 'expose-failed'; readonly service: string; readonly message: string };

/** Runs before an IP is moved: makes the target ready to receive it (Service externalIPs). */
export interface Exposure {
  /** awaited before an assign, at most `waitMs`; rejects only when `signal` aborts */
  beforeAssign(ip: string, dropletId: number, waitMs: number, signal: AbortSignal): Promise<ExposeResult>;
  /** called after any holder change (a move completed, a resync read new holders) or a new winner */
  holdersChanged(): void;
}

/** How long an assign waits for its Services: short when the holder was lost, longer otherwise. */
export interface ExposeWait {
  /** the holder is gone, NotReady, outside the cluster or silent: service is down until the move */
  readonly failoverMs: number;
  /** a first placement or a voluntary move: nothing is down, the Service may go first */
  readonly placementMs: number;
}

export const DEFAULT_EXPOSE_WAIT: ExposeWait = { failoverMs: 1_000, placementMs: 5_000 };

/** Moves whose reason means the current holder does not serve. */
const FAILOVER_REASONS: ReadonlySet<Action['reason']> = new Set(['holder-node-deleted', 'holder-outside-cluster', 'holder-not-eligible', 'holder-heartbeat-lost']);

export interface ActuatorDeps {
  readonly port: ReservedIpPort;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly metrics: ReconcilerMetrics;
  readonly dryRun: boolean;
  readonly actionExpiryMs: number;
  readonly now: () => number;
  /** the pod object behind a PodRef uid, for Events */
  readonly pod: (uid: string) => V1Pod | undefined;
  readonly exposure?: Exposure | undefined;
  readonly exposeWait?: ExposeWait;
}

export interface Actuator {
  /** what happened, for `apply`; rejects only when `signal` aborted (the term ended) */
  execute(action: Action, memory: IpMemory | undefined, signal: AbortSignal): Promise<Outcome[]>;
  /** a pending action was seen done by a later read: the log line, Event and metrics of a move */
  completedLater(action: Action, memory: IpMemory | undefined): Promise<void>;
}

const REPORT_EVENTS: Partial<Record<Action['reason'], string>> = {
  conflict: 'FloatingIPConflict',
  unplaced: 'FloatingIPUnplaced',
  'held-outside-cluster': 'FloatingIPHeldOutsideCluster',
};

const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);

export function createActuator(deps: ActuatorDeps): Actuator {
  const { metrics } = deps;

  async function event(action: Action, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const pod = action.pod && deps.pod(action.pod.uid);
    if (pod) await deps.events.record({ pod, type, reason, message });
  }

  function fields(action: Action) {
    const droplet = action.type === 'assign' ? (action.dropletId ?? null) : null;
    return { ip: action.ip, droplet, pod: action.pod && `${action.pod.namespace}/${action.pod.name}`, node: action.node, reason: action.reason };
  }

  /** Turns a refused call into outcomes: the target's fault, or the attempt's. */
  async function refused(action: Action, err: unknown, signal: AbortSignal): Promise<Outcome[]> {
    if (signal.aborted) throw signal.reason;
    if (isAbort(err)) throw err; // the term's fence refused the write: nothing of it is kept
    const cls: DoErrorClass | 'internal' = err instanceof DoApiError ? err.errorClass : 'internal';
    const message = err instanceof Error ? err.message : String(err);
    const target = action.type === 'assign' ? (action.dropletId ?? null) : null;
    metrics.reconcileErrors.inc({ class: cls });
    const outcomes: Outcome[] = [];
    let blame: 'target' | 'attempt' = 'attempt';
    if (target !== null && err instanceof DoApiError) {
      if (cls === 'Conflict' || (cls === 'Terminal' && err.status === 422)) blame = 'target';
      if (cls === 'NotFound' || cls === 'InProgress') {
        // The IP or the droplet? Read the IP: a missing IP or a running action is not the
        // target's fault; otherwise the droplet is (unknown, or busy with an event).
        const started = deps.now();
        try {
          const r = await deps.port.getReservedIp(action.ip, { signal });
          outcomes.push({ kind: 'observed', holder: { family: r.family, dropletId: r.dropletId, locked: r.locked }, readStartedMs: started });
          if (!r.locked) blame = 'target';
        } catch (readErr) {
          if (signal.aborted) throw signal.reason;
          if (readErr instanceof DoApiError && readErr.errorClass === 'NotFound') outcomes.push({ kind: 'observed', holder: null, readStartedMs: started });
        }
      }
    }
    const retryAfterMs = err instanceof DoApiError ? err.retryAfterMs : undefined;
    const log = { ...fields(action), errorClass: cls, err: { message }, blame };
    deps.logger.warn(log, blame === 'target' ? `droplet ${target} cannot take reserved IP ${action.ip} now; trying another` : `reserved IP ${action.type} failed`);
    if (cls !== 'InProgress' && cls !== 'Conflict') {
      await event(action, 'Warning', 'FloatingIPAssignFailed', `DigitalOcean refused to ${action.type} reserved IP ${action.ip}${target ? ` to droplet ${target}` : ''}: ${message}`);
    }
    if (blame === 'target' && target !== null && cls !== 'internal') outcomes.push({ kind: 'target-failed', dropletId: target, errorClass: cls, message });
    else outcomes.push({ kind: 'failed', dropletId: target, errorClass: cls, retryAfterMs: cls === 'NotFound' ? 60_000 : retryAfterMs });
    return outcomes;
  }

  /** The Service write before an assign: bounded, and whatever happens the assign goes ahead. */
  async function expose(action: Action, target: number, signal: AbortSignal): Promise<void> {
    const wait = deps.exposeWait ?? DEFAULT_EXPOSE_WAIT;
    const waitMs = FAILOVER_REASONS.has(action.reason) ? wait.failoverMs : wait.placementMs;
    const result = await (deps.exposure as Exposure).beforeAssign(action.ip, target, waitMs, signal);
    if (result.kind === 'not-confirmed') {
      deps.logger.info({ ...fields(action), waitedMs: result.waitedMs }, 'Service not updated yet; moving the IP anyway');
    } else if (result.kind === 'expose-failed') {
      metrics.exposeFailures.inc();
      deps.logger.warn({ ...fields(action), service: result.service, err: { message: result.message } }, 'Service write refused; moving the IP anyway');
      await event(action, 'Warning', 'FloatingIPExposeFailed', `Service ${result.service} could not be updated for reserved IP ${action.ip} (${result.message}); the IP moves to droplet ${target} anyway, but traffic to it may be dropped until the Service lists the droplet's anchor`);
    }
  }

  async function move(action: Action, memory: IpMemory | undefined, signal: AbortSignal): Promise<Outcome[]> {
    const target = action.type === 'assign' ? (action.dropletId ?? null) : null;
    if (deps.dryRun) {
      deps.logger.info({ ...fields(action), detail: action.detail }, action.type === 'assign' ? 'would assign' : 'would unassign');
      return [];
    }
    const family = memory?.holder?.family ?? familyOf(action.ip);
    if (target !== null && deps.exposure) await expose(action, target, signal);
    if (signal.aborted) throw signal.reason; // the term ended: no write may start
    const lost = memory?.holderLostMs;
    if (lost !== undefined && target !== null) metrics.decisionSeconds.observe((deps.now() - lost) / 1000);
    let outcome;
    try {
      outcome = target === null ? await deps.port.unassign(action.ip, { signal }) : await deps.port.assign(action.ip, target, { signal });
    } catch (err) {
      return refused(action, err, signal);
    }
    if (outcome.status === 'in-progress') {
      deps.logger.info({ ...fields(action), actionId: outcome.actionId }, 'DigitalOcean action still in progress; waiting for it');
      return [{ kind: 'in-progress', dropletId: target, actionId: outcome.actionId, reason: action.reason, expiresMs: deps.now() + deps.actionExpiryMs, family, action }];
    }
    if (outcome.status === 'errored') {
      const message = `DigitalOcean action ${outcome.actionId} errored; the IP is on droplet ${outcome.dropletId ?? 'none'}`;
      deps.logger.warn({ ...fields(action), actionId: outcome.actionId }, message);
      const observed: Outcome = { kind: 'observed', holder: { family, dropletId: outcome.dropletId, locked: false }, readStartedMs: deps.now() };
      return target === null ? [observed, { kind: 'failed', dropletId: null, errorClass: 'Transient' }] : [observed, { kind: 'target-failed', dropletId: target, errorClass: 'Terminal', message }];
    }
    await completed(action, target, memory);
    return [{ kind: 'moved', dropletId: target, family }];
  }

  async function completed(action: Action, target: number | null, memory: IpMemory | undefined): Promise<void> {
    const lost = memory?.holderLostMs;
    metrics.moves.inc({ ip: action.ip, reason: action.reason });
    if (lost !== undefined && target !== null) metrics.failoverSeconds.observe({ family: String(familyOf(action.ip)) }, (deps.now() - lost) / 1000);
    if (target === null) {
      deps.logger.info(fields(action), 'Floating IP unassigned');
      return;
    }
    deps.logger.info(fields(action), 'Floating IP attached to droplet');
    await event(action, 'Normal', 'FloatingIPAssigned', `Reserved IP ${action.ip} assigned to droplet ${target} (node ${action.node}): ${action.detail}`);
  }

  async function report(action: Action): Promise<Outcome[]> {
    deps.logger.warn({ ip: action.ip, reason: action.reason, droplet: action.dropletId, pod: action.pod && `${action.pod.namespace}/${action.pod.name}`, detail: action.detail }, `reserved IP ${action.reason}`);
    await event(action, 'Warning', REPORT_EVENTS[action.reason] ?? 'FloatingIPUnplaced', `Reserved IP ${action.ip}: ${action.detail}`);
    return action.reportKey === undefined ? [] : [{ kind: 'reported', key: action.reportKey }];
  }

  return {
    execute: (action, memory, signal) => (action.type === 'report' ? report(action) : move(action, memory, signal)),
    completedLater: (action, memory) => completed(action, action.type === 'assign' ? (action.dropletId ?? null) : null, memory),
  };
}
