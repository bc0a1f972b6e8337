// Self-managed TLS across replicas: the Secret is the single source of truth, written with
// optimistic concurrency (create, or update at the read resourceVersion). A replica that
// loses the race re-reads and adopts the winner's certificate instead of writing its own.
// Kubernetes is behind two small interfaces so the logic is tested without an API server.
import type { Logger } from '../../shared/logger.ts';
import { caBundleOf, planTls } from './rotation.ts';
import type { CertFactory, RotationPolicy, StoredTls } from './rotation.ts';
import type { TlsMaterial } from './files.ts';

export interface TlsSecretStore {
  /** null when the Secret does not exist (or holds no usable TLS data) */
  read(): Promise<{ readonly data: StoredTls | null; readonly version: string } | null>;
  /** false when someone else created it first (409) */
  create(data: StoredTls): Promise<boolean>;
  /** false when it changed since `version` was read (409) */
  update(data: StoredTls, version: string): Promise<boolean>;
}

export interface CaBundleTarget {
  /** make every webhook of both configurations trust exactly `bundlePem`; true when something changed */
  ensure(bundlePem: string): Promise<boolean>;
}

export interface SelfManagedDeps {
  readonly store: TlsSecretStore;
  readonly bundle: CaBundleTarget;
  readonly hosts: readonly string[];
  readonly policy: RotationPolicy;
  readonly factory: CertFactory;
  readonly logger: Logger;
  readonly now?: () => Date;
}

const MAX_ATTEMPTS = 5;

/** One pass: bring the Secret up to date (or adopt another replica's), then the caBundles. */
export async function syncTls(deps: SelfManagedDeps): Promise<StoredTls> {
  const now = deps.now ?? (() => new Date());
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await deps.store.read();
    const next = planTls(current?.data ?? null, now(), deps.hosts, deps.policy, deps.factory);
    let state: StoredTls | undefined;
    if (next === null && current?.data) {
      state = current.data;
    } else if (next !== null) {
      const won = current ? await deps.store.update(next, current.version) : await deps.store.create(next);
      if (won) {
        deps.logger.info({ attempt }, current ? 'updated the webhook TLS Secret' : 'created the webhook TLS Secret');
        state = next;
      } else {
        deps.logger.info({ attempt }, 'another replica wrote the TLS Secret first; re-reading it');
      }
    }
    if (state) {
      if (await deps.bundle.ensure(caBundleOf(state))) deps.logger.info('patched caBundle of the webhook configurations');
      return state;
    }
  }
  throw new Error(`could not settle the webhook TLS Secret after ${MAX_ATTEMPTS} attempts (constant write conflicts)`);
}

export interface SelfManagedTls {
  /** the serving pair from the first successful sync */
  readonly initial: TlsMaterial;
  stop(): void;
}

/**
 * Syncs once (throws if that fails: the process must not serve without a trusted cert),
 * then every `intervalMs`; `onChange` gets each new serving pair. Later failures are
 * logged and retried on the next tick — the current cert stays in use.
 */
export async function startSelfManagedTls(
  deps: SelfManagedDeps & { intervalMs: number; onChange: (material: TlsMaterial) => void },
): Promise<SelfManagedTls> {
  const first = await syncTls(deps);
  let served = first.tlsCert;
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const state = await syncTls(deps);
      if (state.tlsCert !== served) {
        served = state.tlsCert;
        deps.onChange({ cert: state.tlsCert, key: state.tlsKey });
      }
    } catch (err) {
      deps.logger.error({ err }, 'TLS sync failed; keeping the current certificate');
    } finally {
      running = false;
    }
  }, deps.intervalMs);
  timer.unref();
  return { initial: { cert: first.tlsCert, key: first.tlsKey }, stop: () => clearInterval(timer) };
}
