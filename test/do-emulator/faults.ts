// Injected failures: for the next `count` requests (API or metadata) matching method + path
// regex, answer with a status, add latency, reset the connection, never answer, send the
// body slowly, or apply the request and then lose its answer.
import { badRequest } from './api-error.ts';

export interface FaultSpec {
  method?: string;
  /** regular expression tested against the request path (no query string) */
  path: string;
  status?: number;
  body?: unknown;
  /** added to the answer; null removes a header the emulator would send (e.g. retry-after on a 429) */
  headers?: Record<string, string | null>;
  /**
   * real-time delay before the request is handled; a client that disconnects meanwhile is
   * logged with status 0 and `aborted: true`, and its request is not applied
   */
  latencyMs?: number;
  /** destroy the socket without answering */
  reset?: boolean;
  /** keep the request open until the client gives up or the emulator closes */
  hang?: boolean;
  /** send the headers at once, then the body in small pieces spread over this many real ms */
  trickleMs?: number;
  /**
   * apply the request as usual, then answer with `status`, `hang` or `reset` instead of the
   * real answer: DigitalOcean acted but the client never learns it
   */
  applyThenFail?: boolean;
  /** how many matching requests it applies to; default 1 */
  count?: number;
}

export interface Fault extends FaultSpec {
  readonly id: number;
  readonly regex: RegExp;
  remaining: number;
}

export class FaultTable {
  private faults: Fault[] = [];
  private nextId = 1;

  add(spec: unknown): Fault {
    const s = (spec ?? {}) as FaultSpec;
    if (typeof s.path !== 'string') throw badRequest('path (a regular expression) is required');
    let regex: RegExp;
    try {
      regex = new RegExp(s.path);
    } catch {
      throw badRequest(`path is not a valid regular expression: ${s.path}`);
    }
    const count = s.count ?? 1;
    if (!Number.isSafeInteger(count) || count < 1) throw badRequest('count must be a positive integer');
    if (s.status !== undefined && (!Number.isSafeInteger(s.status) || s.status < 100 || s.status > 599)) {
      throw badRequest('status must be an HTTP status code');
    }
    for (const [name, v] of [['latencyMs', s.latencyMs], ['trickleMs', s.trickleMs]] as const) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw badRequest(`${name} must be a non-negative integer (milliseconds)`);
    }
    if (s.applyThenFail === true && s.status === undefined && s.hang !== true && s.reset !== true) {
      throw badRequest('applyThenFail needs status, hang or reset: how the answer is lost');
    }
    const fault: Fault = { ...s, method: s.method?.toUpperCase(), id: this.nextId++, regex, remaining: count };
    this.faults.push(fault);
    return fault;
  }

  clear(): void {
    this.faults = [];
  }

  list(): Fault[] {
    return [...this.faults];
  }

  /** The first live fault for this request, consuming one of its uses. */
  take(method: string, path: string): Fault | undefined {
    const fault = this.faults.find((f) => (f.method === undefined || f.method === method) && f.regex.test(path));
    if (fault === undefined) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }
}
