// Assign and unassign: start the action, wait for it (bounded), and turn a 422 or a lost
// answer (timeout, reset, 5xx) into what it means by re-reading the IP instead of retrying
// blindly. flipop's AssignIP has the same idea: a 422 where the IP already sits on the
// target is success.
import type { Logger } from '../logger.ts';
import type { ReservedAddress } from '../addresses.ts';
import { pause } from './abort.ts';
import type { Sleep } from './abort.ts';
import type { ActionBody, WireAction } from './endpoints.ts';
import type { Operations } from './operations.ts';
import { DoApiError, isAbort } from './port.ts';
import type { ActionOutcome, ReservedIp } from './port.ts';
import { backoffMs, pollDelayMs } from './retry.ts';

export interface ActionWait {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly totalMs: number;
}

export interface MoveDeps {
  readonly ops: Operations;
  readonly wait: ActionWait;
  /** tries of the POST itself, each after a read showed the previous one not applied */
  readonly retry: { readonly maxAttempts: number; readonly baseMs: number; readonly capMs: number };
  readonly sleep: Sleep;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Logger | undefined;
}

type Signal = AbortSignal | undefined;

/** Move `addr` to `target` (a droplet id, or null to unassign). */
export async function move(deps: MoveDeps, addr: ReservedAddress, target: number | null, signal?: AbortSignal): Promise<ActionOutcome> {
  const log = deps.logger?.child({ ip: addr.text, droplet: target });
  // droplet_id is always sent on assign: the spec's anyOf would accept it missing, the API does not.
  const body: ActionBody = target === null ? { type: 'unassign' } : { type: 'assign', droplet_id: target };
  for (let attempt = 1; ; attempt++) {
    let action;
    try {
      action = await deps.ops.postAction(addr, body, signal);
    } catch (err) {
      if (!(err instanceof DoApiError)) throw err;
      if (err.status === 422) return explain422(deps, addr, target, err, log, signal);
      if (err.errorClass !== 'Transient') throw err;
      // A timeout, reset or 5xx may come after DigitalOcean applied the action: look first.
      const settled = await afterUnclearWrite(deps, addr, target, err, log, signal);
      if (settled !== undefined) return settled;
      if (attempt >= deps.retry.maxAttempts) {
        throw new DoApiError('Transient', `${err.message}; tried ${attempt} time${attempt === 1 ? '' : 's'}, and the IP shows the ${verb(target)} was not applied`, {
          status: err.status, doId: err.doId, requestId: err.requestId, cause: err,
        });
      }
      const delayMs = backoffMs(attempt - 1, deps.retry, deps.random);
      log?.warn({ attempt, delayMs, status: err.status }, `reserved IP ${verb(target)} failed and the IP shows it was not applied; retrying`);
      await pause(deps.sleep, delayMs, signal);
      continue;
    }
    if (typeof action.id !== 'number') {
      throw new DoApiError('Transient', `DigitalOcean accepted the ${verb(target)} of ${addr.text} but returned no action id`);
    }
    log?.info({ actionId: action.id, status: action.status }, `reserved IP ${verb(target)} started`);
    if (action.status === 'completed') return { actionId: action.id, status: 'completed', dropletId: target };
    return waitForAction(deps, addr, action.id, target, false, log, signal);
  }
}

/**
 * After a POST whose answer was lost: the IP already where asked (done, no action to track),
 * locked by an action of our kind (ours, most likely: wait for it as for our own), locked
 * otherwise (InProgress, never a second action), or unchanged (undefined: safe to send again).
 * IPv6 shows no lock; there a repeated POST is refused with 422 while the first action runs.
 */
async function afterUnclearWrite(deps: MoveDeps, addr: ReservedAddress, target: number | null, err: DoApiError, log: Logger | undefined, signal: Signal): Promise<ActionOutcome | undefined> {
  const details = { status: err.status, doId: err.doId, requestId: err.requestId };
  let ip;
  try {
    ip = await deps.ops.get(addr, signal);
  } catch (readErr) {
    if (isAbort(readErr) || !(readErr instanceof DoApiError)) throw readErr;
    throw new DoApiError('Transient', `${err.message}; whether DigitalOcean applied it is unknown, because re-reading the IP failed too: ${readErr.message}`, { ...details, cause: readErr });
  }
  const verdict = afterLostAnswer(ip, target);
  if (verdict === 'applied') {
    log?.info({ status: err.status }, `reserved IP ${verb(target)} was applied although its answer was lost`);
    return { actionId: 0, status: 'completed', dropletId: target };
  }
  if (verdict === 'not-applied') return undefined;
  let actions: readonly WireAction[] = [];
  try {
    actions = await deps.ops.recentActions(addr, signal);
  } catch (listErr) {
    if (!(listErr instanceof DoApiError)) throw listErr;
  }
  const running = runningActionOfKind(actions, target);
  if (running === undefined) {
    throw new DoApiError('InProgress', `${err.message}; reserved IP ${addr.text} now has an action in progress (held by ${holderText(ip.dropletId)}), so the ${verb(target)} is not sent again; try again when it completes`, details);
  }
  log?.info({ actionId: running, status: err.status }, `reserved IP ${verb(target)} had started although its answer was lost; waiting for it`);
  return waitForAction(deps, addr, running, target, true, log, signal);
}

/**
 * What a re-read IP says about a write whose answer was lost: already where asked, locked by
 * a running action (possibly ours), or as before (the write did not happen).
 */
export function afterLostAnswer(ip: Pick<ReservedIp, 'dropletId' | 'locked'>, target: number | null): 'applied' | 'action-running' | 'not-applied' {
  if (ip.locked) return 'action-running';
  return ip.dropletId === target ? 'applied' : 'not-applied';
}

/** The newest in-progress action of the kind we sent (the action object names no droplet). */
export function runningActionOfKind(actions: readonly WireAction[], target: number | null): number | undefined {
  const kind = target === null ? 'unassign_ip' : 'assign_ip';
  const ids = actions.filter((a) => a.status === 'in-progress' && a.type === kind && typeof a.id === 'number').map((a) => a.id as number);
  return ids.length === 0 ? undefined : Math.max(...ids);
}

/**
 * Poll with doubling delays until the action completes, errors, or `totalMs` has passed; then
 * the IP is re-read so the caller gets the real holder and keeps the action as pending state.
 * `verifyHolder`: the action was found, not started by this call (its target is not in the
 * action object), so a completed one is followed by a read of the IP too.
 */
async function waitForAction(
  deps: MoveDeps, addr: ReservedAddress, actionId: number, target: number | null, verifyHolder: boolean, log: Logger | undefined, signal: Signal,
): Promise<ActionOutcome> {
  const deadline = deps.now() + deps.wait.totalMs;
  for (let poll = 0; ; poll++) {
    const delay = Math.min(pollDelayMs(poll, deps.wait), deadline - deps.now());
    if (delay <= 0) break;
    await pause(deps.sleep, delay, signal);
    let status;
    try {
      status = await deps.ops.actionStatus(addr, actionId, signal);
    } catch (err) {
      // The action is already running: a failed poll ends the wait, it does not fail the move.
      if (err instanceof DoApiError && err.errorClass !== 'Terminal') {
        log?.warn({ actionId, err: { errorClass: err.errorClass, message: err.message } }, 'polling the action failed; re-reading the IP');
        break;
      }
      throw err;
    }
    if (status === 'completed') {
      const holder = verifyHolder ? (await deps.ops.get(addr, signal)).dropletId : target;
      log?.info({ actionId, holder }, `reserved IP ${verb(target)} completed`);
      return { actionId, status: 'completed', dropletId: holder };
    }
    if (status === 'errored') {
      const ip = await deps.ops.get(addr, signal);
      log?.warn({ actionId, holder: ip.dropletId }, `reserved IP ${verb(target)} errored`);
      return { actionId, status: 'errored', dropletId: ip.dropletId };
    }
  }
  const ip = await deps.ops.get(addr, signal);
  log?.warn({ actionId, holder: ip.dropletId, waitedMs: deps.wait.totalMs }, `reserved IP ${verb(target)} still in progress after the bounded wait`);
  return { actionId, status: 'in-progress', dropletId: ip.dropletId };
}

/**
 * A 422 is never retried blindly. The IP is re-read to tell apart:
 * already where we want it (success, no action), locked by a running action (InProgress),
 * target droplet already holding another reserved IP of the family (Conflict),
 * and otherwise the API's own reason: another region (Terminal) or a busy droplet (InProgress).
 */
async function explain422(deps: MoveDeps, addr: ReservedAddress, target: number | null, err: DoApiError, log: Logger | undefined, signal: Signal): Promise<ActionOutcome> {
  const ip = await deps.ops.get(addr, signal);
  const details = { status: 422, doId: err.doId, requestId: err.requestId };
  if (ip.dropletId === target && !ip.locked) {
    log?.info({ holder: ip.dropletId }, `reserved IP already ${target === null ? 'unassigned' : 'on the droplet'}; nothing to do`);
    return { actionId: 0, status: 'completed', dropletId: target };
  }
  if (ip.locked) {
    throw new DoApiError('InProgress', `reserved IP ${addr.text} has an action in progress (held by ${holderText(ip.dropletId)}); try again when it completes`, details);
  }
  if (target !== null) {
    const other = (await deps.ops.listFamily(addr.family, signal)).find((o) => o.dropletId === target && o.ip !== addr.text);
    if (other) {
      throw new DoApiError(
        'Conflict',
        `droplet ${target} already holds reserved IPv${addr.family} ${other.ip}; a droplet holds at most one, so ${addr.text} cannot be assigned to it`,
        details,
      );
    }
  }
  const reason = err.message;
  if (/region/i.test(reason)) {
    throw new DoApiError('Terminal', `reserved IP ${addr.text} cannot be ${verb(target)}ed as asked (422): ${reason}`, details);
  }
  // A busy droplet (pending event) or, for IPv6 which has no `locked` field, a busy IP.
  const what = target === null ? `unassign of ${addr.text}` : `assign of ${addr.text} to droplet ${target}`;
  throw new DoApiError('InProgress', `${what} refused for now, try again later (422): ${reason}`, details);
}

function verb(target: number | null): 'assign' | 'unassign' {
  return target === null ? 'unassign' : 'assign';
}

function holderText(dropletId: number | null): string {
  return dropletId === null ? 'no droplet' : `droplet ${dropletId}`;
}
