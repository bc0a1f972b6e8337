// Injected failures: for the next `count` API requests matching method + path regex, answer
// with a status, add latency, reset the connection or never answer.
import { badRequest } from './api-error.ts';

export interface FaultSpec {
  method?: string;
  /** regular expression tested against the request path (no query string) */
  path: string;
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  latencyMs?: number;
  /** destroy the socket without answering */
  reset?: boolean;
  /** keep the request open until the client gives up or the emulator closes */
  hang?: boolean;
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
