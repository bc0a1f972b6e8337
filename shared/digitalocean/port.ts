// The narrow port between floatip and DigitalOcean's reserved-IP API. The reconciler only
// sees this interface; `client.ts` implements it over HTTP, tests may pass the emulator's URL.

export type IpFamily = 4 | 6;

export interface ReservedIp {
  /** canonical text form (RFC 5952 for IPv6) */
  readonly ip: string;
  readonly family: IpFamily;
  readonly region: string;
  /** droplet currently holding the IP, or null when unassigned */
  readonly dropletId: number | null;
  /** true while an action on the IP is in progress */
  readonly locked: boolean;
}

export type ActionStatus = 'in-progress' | 'completed' | 'errored';

export interface ActionOutcome {
  readonly actionId: number;
  /** 'in-progress' when the bounded wait ran out: the caller keeps it as pending state */
  readonly status: ActionStatus;
  /** holder after the action, re-read from the API when the wait ran out or it errored */
  readonly dropletId: number | null;
}

/**
 * Retry class of every failure, decided once where the response is read.
 * - NotFound: the IP or droplet is not in this account. Retry slowly (state may change).
 * - InProgress: an action on the IP or droplet is pending. Retry soon.
 * - Conflict: the droplet already holds another reserved IP of that family. Re-plan.
 * - RateLimited: 429; `retryAfterMs` says when.
 * - Transient: network error, timeout, 5xx. Retry with backoff.
 * - Terminal: 401/403 and other 4xx: a person must act; do not retry blindly.
 */
export type DoErrorClass = 'NotFound' | 'InProgress' | 'Conflict' | 'RateLimited' | 'Transient' | 'Terminal';

export class DoApiError extends Error {
  override readonly name = 'DoApiError';
  readonly errorClass: DoErrorClass;
  /** HTTP status, absent for network errors */
  readonly status: number | undefined;
  /** DigitalOcean's error id, e.g. "unprocessable_entity" */
  readonly doId: string | undefined;
  readonly requestId: string | undefined;
  /** when the caller may try again, if the API said so (429) */
  readonly retryAfterMs: number | undefined;

  constructor(
    errorClass: DoErrorClass,
    message: string,
    details: { status?: number; doId?: string; requestId?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.errorClass = errorClass;
    this.status = details.status;
    this.doId = details.doId;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export interface Account {
  readonly uuid: string;
  readonly email: string;
  readonly status: string;
}

export interface ReservedIpPort {
  /** Token check at start-up: GET /v2/account. Throws Terminal on 401/403. */
  getAccount(): Promise<Account>;
  /** Every reserved IPv4 and IPv6 of the account, all pages (one request per page). */
  listReservedIps(): Promise<ReservedIp[]>;
  getReservedIp(ip: string): Promise<ReservedIp>;
  /**
   * Assign `ip` to `dropletId` and wait (bounded) for the action. Idempotent: an IP already
   * on that droplet resolves without an action (`actionId` 0, status 'completed').
   */
  assign(ip: string, dropletId: number): Promise<ActionOutcome>;
  /** Unassign `ip`; an already unassigned IP resolves without an action. */
  unassign(ip: string): Promise<ActionOutcome>;
}
