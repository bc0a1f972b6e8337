// Carries out one planned action through the ReservedIpPort and records what happened:
// holder cache, per-IP memory (pending actions, cool-off, holder-lost time), Events, the
// log line, metrics. Failures become a `RetryLater` carrying the delay for the work queue.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { DoErrorClass, ReservedIpPort } from '../shared/digitalocean/port.ts';
import type { EventSink } from './events.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import type { Action, HolderFacts, IpMemory } from './model.ts';

/** Retry delays per error class; undefined = the queue's exponential backoff. */
export const RETRY_DELAYS: Readonly<Record<DoErrorClass, number | undefined>> = {
  NotFound: 60_000, // the IP or droplet may appear (created, or the droplet boots): look slowly
  InProgress: 2_000, // another action is finishing: soon
  Conflict: undefined, // holders changed under us: re-plan with fresh holders, backing off
  RateLimited: 60_000, // only when DigitalOcean gave no reset time
  Transient: undefined,
  Terminal: 5 * 60_000, // a person must act; retry rarely, never hot-loop
};

/** Thrown to the work queue: retry this IP after `retryAfterMs` (or the queue's backoff). */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  readonly errorClass: DoErrorClass | 'internal';
  readonly retryAfterMs: number | undefined;
  /** holders are stale: refresh them from DigitalOcean before planning again */
  readonly refreshHolders: boolean;
  constructor(message: string, errorClass: DoErrorClass | 'internal', retryAfterMs: number | undefined, cause: unknown) {
    super(message, { cause });
    this.errorClass = errorClass;
    this.retryAfterMs = retryAfterMs;
    this.refreshHolders = errorClass === 'Conflict' || errorClass === 'NotFound';
  }
}

export interface ActuatorState {
  /** DigitalOcean's holders as last seen or changed by us */
  readonly holders: Map<string, HolderFacts>;
  readonly memory: Map<string, IpMemory>;
}

export interface ActuatorDeps {
  readonly port: ReservedIpPort;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly metrics: ReconcilerMetrics;
  readonly dryRun: boolean;
  readonly actionExpiryMs: number;
  /** how soon to look again at an IP whose action is still in progress */
  readonly pendingPollMs: number;
  readonly now: () => number;
  readonly state: ActuatorState;
  /** the pod object behind a PodRef uid, for Events */
  readonly pod: (uid: string) => V1Pod | undefined;
}

export interface ActResult {
  /** look again after this long (a pending action) */
  readonly requeueAfterMs?: number;
}

export interface Actuator {
  execute(action: Action): Promise<ActResult>;
  /** DigitalOcean finished a pending action after we stopped waiting (seen by a later read) */
  pendingCompleted(ip: string): Promise<void>;
  /** forget the reports of an IP so a new problem is reported again */
  clearReports(ip: string): void;
}

const REPORT_EVENTS = { conflict: 'FloatingIPConflict', unplaced: 'FloatingIPUnplaced' } as const;

export function createActuator(deps: ActuatorDeps): Actuator {
  const { state, metrics } = deps;
  const reported = new Map<string, string>(); // ip → reason/pod/detail last reported
  const pendingActions = new Map<string, Action>(); // ip → the action DigitalOcean is still running

  function remember(ip: string, patch: Partial<IpMemory>): void {
    const next: IpMemory = { ...state.memory.get(ip), ...patch };
    state.memory.set(ip, next);
  }

  function setHolder(ip: string, dropletId: number | null, locked: boolean): void {
    const before = state.holders.get(ip);
    const family = before?.family ?? (ip.includes(':') ? 6 : 4);
    if (before?.dropletId != null) metrics.holder.remove({ ip, droplet: String(before.dropletId) });
    if (dropletId !== null) metrics.holder.set({ ip, droplet: String(dropletId) }, 1);
    state.holders.set(ip, { family, dropletId, locked });
  }

  function completed(ip: string, dropletId: number | null, reason: string): void {
    const t = deps.now();
    const lost = state.memory.get(ip)?.holderLostMs;
    setHolder(ip, dropletId, false);
    state.memory.set(ip, { lastMoveMs: t });
    metrics.moves.inc({ ip, reason });
    if (lost !== undefined && dropletId !== null) {
      metrics.failoverSeconds.observe({ family: ip.includes(':') ? '6' : '4' }, (t - lost) / 1000);
    }
  }

  async function event(action: Action, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const pod = action.pod && deps.pod(action.pod.uid);
    if (pod) await deps.events.record({ pod, type, reason, message });
  }

  async function failed(action: Action, err: unknown): Promise<never> {
    const cls: DoErrorClass | 'internal' = err instanceof DoApiError ? err.errorClass : 'internal';
    const message = err instanceof Error ? err.message : String(err);
    metrics.reconcileErrors.inc({ class: cls });
    const delay = cls === 'internal' ? undefined : cls === 'RateLimited' ? ((err as DoApiError).retryAfterMs ?? RETRY_DELAYS.RateLimited) : RETRY_DELAYS[cls];
    deps.logger.warn({ ip: action.ip, droplet: action.dropletId, reason: action.reason, errorClass: cls, err: { message }, retryInMs: delay }, `reserved IP ${action.type} failed`);
    if (cls !== 'InProgress' && cls !== 'Conflict') {
      await event(action, 'Warning', 'FloatingIPAssignFailed', `DigitalOcean refused to ${action.type} reserved IP ${action.ip}${action.dropletId ? ` to droplet ${action.dropletId}` : ''}: ${message}`);
    }
    throw new RetryLater(message, cls, delay, err);
  }

  async function move(action: Action): Promise<ActResult> {
    const target = action.type === 'assign' ? (action.dropletId ?? null) : null;
    const fields = { ip: action.ip, droplet: target, pod: action.pod && `${action.pod.namespace}/${action.pod.name}`, node: action.node, reason: action.reason };
    if (deps.dryRun) {
      deps.logger.info({ ...fields, detail: action.detail }, action.type === 'assign' ? 'would assign' : 'would unassign');
      return {};
    }
    const lost = state.memory.get(action.ip)?.holderLostMs;
    if (lost !== undefined && target !== null) metrics.decisionSeconds.observe((deps.now() - lost) / 1000);
    let outcome;
    try {
      outcome = target === null ? await deps.port.unassign(action.ip) : await deps.port.assign(action.ip, target);
    } catch (err) {
      return failed(action, err);
    }
    if (outcome.status === 'in-progress') {
      remember(action.ip, { pending: { dropletId: target, expiresMs: deps.now() + deps.actionExpiryMs, reason: action.reason } });
      pendingActions.set(action.ip, action);
      setHolder(action.ip, outcome.dropletId, true);
      deps.logger.info({ ...fields, actionId: outcome.actionId }, 'DigitalOcean action still in progress; waiting for it');
      return { requeueAfterMs: Math.min(deps.actionExpiryMs, deps.pendingPollMs) };
    }
    if (outcome.status === 'errored') {
      setHolder(action.ip, outcome.dropletId, false);
      return failed(action, new DoApiError('Transient', `DigitalOcean action ${outcome.actionId} errored; the IP is on droplet ${outcome.dropletId ?? 'none'}`));
    }
    return finish(action, target);
  }

  async function finish(action: Action, target: number | null): Promise<ActResult> {
    const fields = { ip: action.ip, droplet: target, pod: action.pod && `${action.pod.namespace}/${action.pod.name}`, node: action.node, reason: action.reason };
    pendingActions.delete(action.ip);
    completed(action.ip, target, action.reason);
    if (target === null) {
      deps.logger.info(fields, 'Floating IP unassigned');
      return {};
    }
    deps.logger.info(fields, 'Floating IP attached to droplet');
    await event(action, 'Normal', 'FloatingIPAssigned', `Reserved IP ${action.ip} assigned to droplet ${target} (node ${action.node}): ${action.detail}`);
    return {};
  }

  async function report(action: Action): Promise<ActResult> {
    const key = `${action.ip}\n${action.reason}\n${action.pod?.uid ?? ''}`;
    if (reported.get(key) === action.detail) return {};
    reported.set(key, action.detail);
    deps.logger.warn({ ip: action.ip, reason: action.reason, pod: action.pod && `${action.pod.namespace}/${action.pod.name}`, detail: action.detail }, `reserved IP ${action.reason}`);
    const reason = REPORT_EVENTS[action.reason as keyof typeof REPORT_EVENTS] ?? 'FloatingIPUnplaced';
    await event(action, 'Warning', reason, `Reserved IP ${action.ip}: ${action.detail}`);
    return {};
  }

  return {
    execute: (action) => (action.type === 'report' ? report(action) : move(action)),
    async pendingCompleted(ip) {
      const pending = state.memory.get(ip)?.pending;
      const action = pendingActions.get(ip);
      if (action) await finish(action, pending?.dropletId ?? action.dropletId ?? null);
      else if (pending) completed(ip, pending.dropletId, pending.reason ?? 'completed-later');
    },
    clearReports(ip) {
      for (const key of reported.keys()) if (key.startsWith(`${ip}\n`)) reported.delete(key);
    },
  };
}
