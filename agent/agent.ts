// The node agent's loop: on start and every --interval, read the anchor IPv4 from the
// metadata service and make the node's annotation say it (read, compare, one merge patch on
// a difference). The anchor does not change in a droplet's life; the re-check repairs an
// annotation someone removed. An unreachable metadata service ends the agent (exit 1, so the
// DaemonSet shows the problem); a Kubernetes error is logged and retried with backoff.
import { checkAnchor } from '../shared/anchors.ts';
import { CONTENT_TYPE, KubeApiError, seg } from '../shared/kube/client.ts';
import type { KubeClient } from '../shared/kube/client.ts';
import type { Logger } from '../shared/logger.ts';
import type { SetTimer } from '../shared/timers.ts';
import type { AgentConfig } from './config.ts';
import { MetadataError, readAnchorIpv4 } from './metadata.ts';

export const FIELD_MANAGER = 'floatip-agent';

export interface RunningAgent {
  /** resolves with the exit code: 0 after stop(), 1 when the metadata service failed */
  readonly done: Promise<number>;
  /** the anchor last recorded on the node, once there is one */
  recorded(): string | undefined;
  stop(): void;
}

export interface AgentDeps {
  /** the two calls: read this node, merge-patch its annotation */
  readonly kube: KubeClient;
  readonly logger: Logger;
  readonly setTimer?: SetTimer;
  /** backoff after a Kubernetes error: baseMs doubling, capped at the interval */
  readonly backoffBaseMs?: number;
}

/** What the annotation needs: nothing, or the value to write (pure, for the table test). */
export function annotationChange(current: string | undefined, anchor: string): string | undefined {
  return current === anchor ? undefined : anchor;
}

function apiMessage(err: unknown): string {
  if (!(err instanceof KubeApiError)) return err instanceof Error ? err.message : String(err);
  return `${err.code}${err.apiMessage ? `: ${err.apiMessage}` : ''}`;
}

interface NodeMeta {
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
}

export function startAgent(config: AgentConfig, deps: AgentDeps): RunningAgent {
  const nodePath = `/api/v1/nodes/${seg(config.nodeName)}`;
  // A referenced timer: between checks it is what keeps the agent process alive.
  const setTimer: SetTimer =
    deps.setTimer ??
    ((fn, ms) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
  const log = deps.logger.child({ node: config.nodeName });
  const stopper = new AbortController();
  let recorded: string | undefined;
  let failures = 0;
  let cancelTimer: (() => void) | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  async function check(): Promise<void> {
    const read = await readAnchorIpv4({ baseUrl: config.metadataUrl, timeoutMs: config.metadataTimeoutMs, signal: stopper.signal });
    // Only a droplet anchor is ever published: the reconciler copies it into Services' externalIPs.
    const checked = checkAnchor(read, config.anchorRange);
    if (!checked.ok) throw new MetadataError('invalid', `metadata service at ${config.metadataUrl} answered ${checked.why}; not recorded (--anchor-range)`);
    const anchor = checked.anchor;
    const node = await deps.kube.request<NodeMeta>({ method: 'GET', path: nodePath });
    const change = annotationChange(node.metadata?.annotations?.[config.annotation], anchor);
    if (change !== undefined) {
      await deps.kube.request({
        method: 'PATCH',
        path: `${nodePath}?fieldManager=${FIELD_MANAGER}`,
        body: { metadata: { annotations: { [config.annotation]: change } } },
        contentType: CONTENT_TYPE.mergePatch,
      });
      log.info({ anchor, annotation: config.annotation, previous: node.metadata?.annotations?.[config.annotation] ?? null }, 'anchor IPv4 recorded on the node');
    } else if (recorded === undefined) {
      log.info({ anchor, annotation: config.annotation }, 'anchor IPv4 already recorded on the node');
    }
    recorded = anchor;
  }

  function schedule(ms: number): void {
    if (stopper.signal.aborted) return;
    cancelTimer = setTimer(() => void run(), ms);
  }

  async function run(): Promise<void> {
    try {
      await check();
      failures = 0;
      schedule(config.intervalMs);
    } catch (err) {
      if (stopper.signal.aborted) return;
      if (err instanceof MetadataError) {
        log.fatal({ problem: err.problem, metadataUrl: config.metadataUrl }, err.message);
        stopper.abort();
        finish(1);
        return;
      }
      failures += 1;
      const retryInMs = Math.min(config.intervalMs, (deps.backoffBaseMs ?? 1000) * 2 ** (failures - 1));
      const notFound = err instanceof KubeApiError && err.code === 404;
      log.error(
        { err: apiMessage(err), retryInMs },
        notFound ? `node ${config.nodeName} does not exist; is --node-name (NODE_NAME) this node's name?` : 'cannot record the anchor IPv4 on the node; retrying',
      );
      schedule(retryInMs);
    }
  }

  void run();
  return {
    done,
    recorded: () => recorded,
    stop() {
      if (stopper.signal.aborted) return;
      stopper.abort();
      cancelTimer?.();
      finish(0);
    },
  };
}
