// client-node's Watch, over shared/kube's connection (see ./api.ts for why not client-node's
// own). ListWatch, client-node's informer cache, calls watch(path, query, callback, done) and
// aborts the controller it gets back to stop; done(err) comes once, when the stream ends for
// any reason. As client-node's: a watch whose headers, or next bytes, take longer than 30 s
// ends with a TimeoutError (the informer then lists and watches again).
import type { KubeClient } from '../../shared/kube/client.ts';

export const WATCH_TIMEOUT_MS = 30_000;

export type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

/** What ListWatch uses of client-node's Watch. */
export interface Watcher {
  watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: WatchCallback, done: (err: unknown) => void): Promise<AbortController>;
}

export class WatchStatusError extends Error {
  readonly statusCode: number;
  constructor(path: string, statusCode: number, message: string) {
    super(`watch ${path}: ${statusCode} ${message}`);
    this.statusCode = statusCode;
  }
}

export function kubeWatch(kube: KubeClient, timeoutMs = WATCH_TIMEOUT_MS): Watcher {
  return {
    async watch(path, queryParams, callback, done) {
      const query = new URLSearchParams({ watch: 'true' });
      for (const [key, value] of Object.entries(queryParams)) if (value !== undefined) query.set(key, String(value));
      const controller = new AbortController();
      let finished = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        controller.abort();
        done(err);
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
        timer.unref();
      };
      arm();
      try {
        const res = await kube.stream(`${path}?${query.toString()}`, controller.signal);
        if (res.statusCode !== 200) {
          res.resume();
          throw new WatchStatusError(path, res.statusCode ?? 0, res.statusMessage ?? '');
        }
        arm();
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          arm();
          pending += chunk;
          for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (line.trim() === '') continue;
            try {
              const event = JSON.parse(line) as { type: string; object: unknown };
              callback(event.type, event.object, event);
            } catch {
              // as client-node: a line that is not an event is skipped
            }
          }
        });
        res.on('end', () => finish(null));
        res.on('close', () => finish(null));
        res.on('error', finish);
      } catch (err) {
        finish(err);
      }
      return controller;
    },
  };
}
