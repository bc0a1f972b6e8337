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

/** Bring the Secret up to date, or adopt what another replica wrote. */
export async function settleSecret(deps: SelfManagedDeps): Promise<StoredTls> {
  const now = deps.now ?? (() => new Date());
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await deps.store.read();
    const next = planTls(current?.data ?? null, now(), deps.hosts, deps.policy, deps.factory);
    if (next === null && current?.data) return current.data;
    if (next === null) continue;
    const won = current ? await deps.store.update(next, current.version) : await deps.store.create(next);
    if (won) {
      deps.logger.info({ attempt }, current ? 'updated the webhook TLS Secret' : 'created the webhook TLS Secret');
      return next;
    }
    deps.logger.info({ attempt }, 'another replica wrote the TLS Secret first; re-reading it');
  }
  throw new Error(`could not settle the webhook TLS Secret after ${MAX_ATTEMPTS} attempts (constant write conflicts)`);
}

/** One pass: the Secret, then the caBundles. */
export async function syncTls(deps: SelfManagedDeps): Promise<StoredTls> {
  const state = await settleSecret(deps);
  if (await deps.bundle.ensure(caBundleOf(state))) deps.logger.info('patched caBundle of the webhook configurations');
  return state;
}

export interface SelfManagedTls {
  /** the serving pair from the first successful sync */
  readonly initial: TlsMaterial;
  stop(): void;
}

/**
 * Settles the Secret once (throws if that fails: there is no certificate to serve), then
 * syncs every `intervalMs`; `onChange` gets each new serving pair. A failed pass — e.g. the
 * webhook configurations are not applied yet — is logged and retried after `retryMs`, and
 * the current certificate stays in use meanwhile.
 */
export async function startSelfManagedTls(
  deps: SelfManagedDeps & { intervalMs: number; retryMs?: number; onChange: (material: TlsMaterial) => void },
): Promise<SelfManagedTls> {
  const first = await settleSecret(deps);
  let served = first.tlsCert;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = async (): Promise<boolean> => {
    try {
      const state = await syncTls(deps);
      if (state.tlsCert !== served) {
        served = state.tlsCert;
        deps.onChange({ cert: state.tlsCert, key: state.tlsKey });
      }
      return true;
    } catch (err) {
      deps.logger.error({ err }, 'TLS sync failed; keeping the current certificate and retrying');
      return false;
    }
  };
  const schedule = (ok: boolean) => {
    if (stopped) return;
    timer = setTimeout(async () => schedule(await pass()), ok ? deps.intervalMs : (deps.retryMs ?? 5_000));
    timer.unref();
  };
  // The caBundle half of the first pass runs here, so a missing configuration delays trust, not startup.
  try {
    if (await deps.bundle.ensure(caBundleOf(first))) deps.logger.info('patched caBundle of the webhook configurations');
    schedule(true);
  } catch (err) {
    deps.logger.error({ err }, 'cannot patch caBundle yet (are the webhook configurations applied?); retrying');
    schedule(false);
  }
  return {
    initial: { cert: first.tlsCert, key: first.tlsKey },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
