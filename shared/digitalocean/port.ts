// The narrow ports between floatip and DigitalOcean: reserved IPs (ReservedIpPort) and the
// droplet and firewall calls (CloudPort). The reconciler only sees these interfaces;
// `client.ts` implements both over HTTP, tests may pass the emulator's URL.

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

/**
 * Per-call options. A write belongs to a cancellable leadership term: when `signal` aborts,
 * the HTTP request in flight is aborted on the socket (it must not reach DigitalOcean
 * afterwards), every wait (retry backoff, rate-budget wait, 429 wait, action polling) ends at
 * once, no further request is sent for the call, and the call rejects with `signal.reason`
 * (by default a DOMException named 'AbortError'). `isAbort` recognises such rejections.
 */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** Reasons the client rejected with because the caller's signal aborted (any value type). */
const abortReasons = new WeakSet<object>();

/** Record `reason` as an abort rejection and return it, for `throw abortRejection(signal)`. */
export function abortRejection(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (typeof reason === 'object' && reason !== null) abortReasons.add(reason);
  return reason;
}

/** true when `err` is the rejection of a call whose signal aborted (not a DigitalOcean failure). */
export function isAbort(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  return abortReasons.has(err) || (err as { name?: unknown }).name === 'AbortError';
}

export interface Account {
  readonly uuid: string;
  readonly email: string;
  readonly status: string;
}

export interface ReservedIpPort {
  /** Token check at start-up: GET /v2/account. Throws Terminal on 401/403. */
  getAccount(opts?: CallOptions): Promise<Account>;
  /** Every reserved IPv4 and IPv6 of the account, all pages (one request per page). */
  listReservedIps(opts?: CallOptions): Promise<ReservedIp[]>;
  getReservedIp(ip: string, opts?: CallOptions): Promise<ReservedIp>;
  /**
   * Assign `ip` to `dropletId` and wait (bounded) for the action. Idempotent: an IP already
   * on that droplet resolves without an action (`actionId` 0, status 'completed').
   */
  assign(ip: string, dropletId: number, opts?: CallOptions): Promise<ActionOutcome>;
  /** Unassign `ip`; an already unassigned IP resolves without an action. */
  unassign(ip: string, opts?: CallOptions): Promise<ActionOutcome>;
}

export interface Droplet {
  readonly id: number;
  readonly name: string;
  readonly tags: readonly string[];
}

export interface FirewallRule {
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  /** "8080", "8000-9000", or "all"/"0" as DigitalOcean uses them */
  readonly ports: string;
  /** sources (inbound) or destinations (outbound) */
  readonly addresses: readonly string[];
  readonly tags?: readonly string[];
}

export interface FirewallSpec {
  readonly name: string;
  readonly inbound: readonly FirewallRule[];
  readonly outbound: readonly FirewallRule[];
  readonly tags: readonly string[];
  readonly dropletIds: readonly number[];
}

export interface Firewall extends FirewallSpec {
  readonly id: string;
  readonly status: string;
}

export interface CloudPort {
  /** GET /v2/droplets/{id} (tags tell the cluster: k8s:<cluster-uuid>) */
  getDroplet(id: number, opts?: CallOptions): Promise<Droplet>;
  /** every firewall of the account, all pages */
  listFirewalls(opts?: CallOptions): Promise<Firewall[]>;
  createFirewall(spec: FirewallSpec, opts?: CallOptions): Promise<Firewall>;
  /** PUT: full replacement */
  updateFirewall(id: string, spec: FirewallSpec, opts?: CallOptions): Promise<Firewall>;
  /** a 404 means already gone: resolves */
  deleteFirewall(id: string, opts?: CallOptions): Promise<void>;
}
