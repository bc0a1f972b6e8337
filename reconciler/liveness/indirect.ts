// The reconciler's side of an indirect probe: ask one agent (by its node's InternalIP) to
// probe a suspect droplet, and read its signed answer. Every call ends in exactly one of
// three answers, which the detector counts: 'reached', 'unreached', or 'no-answer' (the agent
// is down, cut off, has no key yet, or its answer is not signed with ours — never evidence).
import { newNonce, PROBE_PATH, parseProbeAnswer, SIGNATURE_HEADER, sign, verify } from '../../shared/liveness-auth.ts';
import type { ProbeRequest } from '../../shared/liveness-auth.ts';

export type IndirectAnswer = 'reached' | 'unreached' | 'no-answer';

export interface IndirectTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
}

/** A port for the monitor: a fake in unit tests. */
export type IndirectProber = (agentHost: string, target: IndirectTarget, signal?: AbortSignal) => Promise<IndirectAnswer>;

/**
 * How long the agent gets beyond its own probe timeout: one HTTP exchange inside the VPC.
 * Kept short because a round waits for its slowest prober.
 */
export const ANSWER_MARGIN_MS = 250;

export function createIndirectProber(opts: { readonly agentPort: number; readonly key: () => Buffer | undefined; readonly now?: () => number }): IndirectProber {
  const now = opts.now ?? Date.now;
  return async (agentHost, target, signal) => {
    const key = opts.key();
    if (!key) return 'no-answer';
    const request: ProbeRequest = { host: target.host, port: target.port, timeoutMs: target.timeoutMs, sentMs: now(), nonce: newNonce() };
    const body = JSON.stringify(request);
    const host = agentHost.includes(':') ? `[${agentHost}]` : agentHost;
    const timeout = AbortSignal.timeout(target.timeoutMs + ANSWER_MARGIN_MS);
    try {
      const res = await fetch(`http://${host}:${opts.agentPort}${PROBE_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(key, body) },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      if (res.status !== 200 || !verify(key, text, res.headers.get(SIGNATURE_HEADER) ?? undefined)) return 'no-answer';
      const answer = parseProbeAnswer(text);
      if (!answer || answer.nonce !== request.nonce) return 'no-answer';
      return answer.reached ? 'reached' : 'unreached';
    } catch {
      return 'no-answer';
    }
  };
}
