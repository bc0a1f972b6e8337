// Assign and unassign: start the action, wait for it (bounded), and turn a 422 into what it
// means by re-reading the IP instead of retrying blindly. flipop's AssignIP has the same
// idea: a 422 where the IP already sits on the target is success.
import type { Logger } from '../logger.ts';
import type { ReservedAddress } from '../addresses.ts';
import type { Operations } from './operations.ts';
import { DoApiError } from './port.ts';
import type { ActionOutcome } from './port.ts';
import { pollDelayMs } from './retry.ts';

export interface ActionWait {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly totalMs: number;
}

export interface MoveDeps {
  readonly ops: Operations;
  readonly wait: ActionWait;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly logger: Logger | undefined;
}

/** Move `addr` to `target` (a droplet id, or null to unassign). */
export async function move(deps: MoveDeps, addr: ReservedAddress, target: number | null): Promise<ActionOutcome> {
  const log = deps.logger?.child({ ip: addr.text, droplet: target });
  let action;
  try {
    // droplet_id is always sent on assign: the spec's anyOf would accept it missing, the API does not.
    action = await deps.ops.postAction(addr, target === null ? { type: 'unassign' } : { type: 'assign', droplet_id: target });
  } catch (err) {
    if (err instanceof DoApiError && err.status === 422) return explain422(deps, addr, target, err, log);
    throw err;
  }
  if (typeof action.id !== 'number') {
    throw new DoApiError('Transient', `DigitalOcean accepted the ${verb(target)} of ${addr.text} but returned no action id`);
  }
  log?.info({ actionId: action.id, status: action.status }, `reserved IP ${verb(target)} started`);
  if (action.status === 'completed') return { actionId: action.id, status: 'completed', dropletId: target };
  return waitForAction(deps, addr, action.id, target, log);
}

/**
 * Poll with doubling delays until the action completes, errors, or `totalMs` has passed; then
 * the IP is re-read so the caller gets the real holder and keeps the action as pending state.
 */
async function waitForAction(deps: MoveDeps, addr: ReservedAddress, actionId: number, target: number | null, log: Logger | undefined): Promise<ActionOutcome> {
  const deadline = deps.now() + deps.wait.totalMs;
  for (let poll = 0; ; poll++) {
    const delay = Math.min(pollDelayMs(poll, deps.wait), deadline - deps.now());
    if (delay <= 0) break;
    await deps.sleep(delay);
    let status;
    try {
      status = await deps.ops.actionStatus(addr, actionId);
    } catch (err) {
      // The action is already running: a failed poll ends the wait, it does not fail the move.
      if (err instanceof DoApiError && err.errorClass !== 'Terminal') {
        log?.warn({ actionId, err: { errorClass: err.errorClass, message: err.message } }, 'polling the action failed; re-reading the IP');
        break;
      }
      throw err;
    }
    if (status === 'completed') {
      log?.info({ actionId }, `reserved IP ${verb(target)} completed`);
      return { actionId, status: 'completed', dropletId: target };
    }
    if (status === 'errored') {
      const ip = await deps.ops.get(addr);
      log?.warn({ actionId, holder: ip.dropletId }, `reserved IP ${verb(target)} errored`);
      return { actionId, status: 'errored', dropletId: ip.dropletId };
    }
  }
  const ip = await deps.ops.get(addr);
  log?.warn({ actionId, holder: ip.dropletId, waitedMs: deps.wait.totalMs }, `reserved IP ${verb(target)} still in progress after the bounded wait`);
  return { actionId, status: 'in-progress', dropletId: ip.dropletId };
}

/**
 * A 422 is never retried blindly. The IP is re-read to tell apart:
 * already where we want it (success, no action), locked by a running action (InProgress),
 * target droplet already holding another reserved IP of the family (Conflict),
 * and otherwise the API's own reason: another region (Terminal) or a busy droplet (InProgress).
 */
async function explain422(deps: MoveDeps, addr: ReservedAddress, target: number | null, err: DoApiError, log: Logger | undefined): Promise<ActionOutcome> {
  const ip = await deps.ops.get(addr);
  const details = { status: 422, doId: err.doId, requestId: err.requestId };
  if (ip.dropletId === target && !ip.locked) {
    log?.info({ holder: ip.dropletId }, `reserved IP already ${target === null ? 'unassigned' : 'on the droplet'}; nothing to do`);
    return { actionId: 0, status: 'completed', dropletId: target };
  }
  if (ip.locked) {
    throw new DoApiError('InProgress', `reserved IP ${addr.text} has an action in progress (held by ${holderText(ip.dropletId)}); try again when it completes`, details);
  }
  if (target !== null) {
    const other = (await deps.ops.listFamily(addr.family)).find((o) => o.dropletId === target && o.ip !== addr.text);
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
