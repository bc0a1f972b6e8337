// Installing the rendered chart into a test control plane and running its processes as the
// pods would, for e2e tests. What is applied is helm's output itself, by server-side apply,
// with two changes a loopback cluster needs: objects of CRDs it lacks (cert-manager,
// Prometheus Operator) are left out, and the webhook configurations call the webhook by a
// loopback URL instead of the Service (their matchConditions, rules and policies stay as rendered).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { applyObjects } from '../cluster/manifests.ts';
import type { ControlPlane } from '../cluster/harness.ts';
import type { Manifest } from './helm.ts';
import { REPO_ROOT } from './helm.ts';
import type { RunnableContainer } from './workloads.ts';
import { collectOutput } from '../child-output.ts';

/** API groups a bare control plane does not serve. */
const CRD_GROUPS = ['cert-manager.io/', 'monitoring.coreos.com/'];

export interface Installed {
  /** what was applied, in order */
  readonly applied: readonly Manifest[];
  /** rendered objects left out because their API is a CRD this cluster lacks */
  readonly skipped: readonly Manifest[];
}

/** Server-side applies the rendering; the webhook configurations point at `webhookUrl`, caBundle left for the webhook to fill. */
export async function installRendered(cp: ControlPlane, objects: readonly Manifest[], webhookUrl: string): Promise<Installed> {
  const skipped = objects.filter((o) => CRD_GROUPS.some((g) => o.apiVersion.startsWith(g)));
  const applied = objects
    .filter((o) => !skipped.includes(o))
    .map((o) => {
      if (o.kind !== 'MutatingWebhookConfiguration' && o.kind !== 'ValidatingWebhookConfiguration') return o;
      const copy = structuredClone(o);
      for (const hook of copy['webhooks'] as { clientConfig: { service?: { path?: string }; url?: string } }[]) {
        hook.clientConfig = { url: `${webhookUrl}${hook.clientConfig.service?.path ?? ''}` };
      }
      return copy;
    });
  await applyObjects(cp.kubeConfig, applied as KubernetesObject[]);
  return { applied, skipped };
}

export interface ChartProcess {
  readonly child: ChildProcess;
  /** parsed JSON log lines (pino), in order */
  readonly lines: Record<string, unknown>[];
  /** everything written on stderr (config errors are plain text) */
  stderr(): string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Runs `node <entry>.ts` with the container's rendered args and environment, as the pod's
 * service account: `args` after the rendered ones override them (parseArgs: the last one
 * wins), `files` maps paths the pod would see mounted to their contents.
 */
export async function runAsPod(
  cp: ControlPlane,
  r: RunnableContainer,
  opts: {
    namespace: string;
    overrides: readonly string[];
    files?: Record<string, string>;
    env?: Record<string, string>;
    /** credentials to use instead of an unbound token of the pod's service account (e.g. one bound to a pod) */
    kubeconfigYaml?: string;
  },
): Promise<ChartProcess> {
  // command: node, the chart's node flags, dist/<component>/main.js (run from its source here)
  const command = r.container.command ?? [];
  const entry = command.at(-1)?.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  if (!entry) throw new Error(`container ${r.container.name} has no command`);
  const nodeFlags = command.slice(1, -1);
  const dir = await mkdtemp(join(tmpdir(), 'floatip-chart-'));
  // Mounted files keep their in-pod path under the temp dir; the env names the moved path.
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  for (const [name, value] of Object.entries(r.env)) env[name] = opts.files?.[value] !== undefined ? join(dir, value) : value;
  for (const [path, content] of Object.entries(opts.files ?? {})) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content, { mode: 0o600 });
  }
  const account = r.pod.serviceAccountName ?? 'default';
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, opts.kubeconfigYaml ?? (await cp.kubeConfigForServiceAccount(opts.namespace, account)).exportConfig(), { mode: 0o600 });
  env['KUBECONFIG'] = kubeconfig;
  Object.assign(env, opts.env);

  // On the host, the nodes' InternalIPs are no network of ours: no liveness probes from the
  // reconciler (the chart turns them on), no indirect-probe endpoint in the agent.
  const hostOnly = entry.endsWith('reconciler/main.ts') ? ['--no-liveness-probes'] : [];
  if (entry.endsWith('agent/main.ts')) env['FLOATIP_LIVENESS_PORT'] = '0';
  const child = spawn(process.execPath, [...nodeFlags, join(REPO_ROOT, entry), ...r.args, ...hostOnly, ...opts.overrides], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { lines, stderr, exited } = collectOutput(child);
  void exited.then(() => rm(dir, { recursive: true, force: true }));
  return {
    child,
    lines,
    stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The files the kubelet would mount from the container's Secret volumes (path → text), read from the API server. */
export async function mountedSecretFiles(cp: ControlPlane, r: RunnableContainer, namespace: string): Promise<Record<string, string>> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const files: Record<string, string> = {};
  for (const mount of r.container.volumeMounts ?? []) {
    const source = r.pod.volumes?.find((v) => v.name === mount.name)?.secret;
    if (!source?.secretName) continue;
    const data = (await core.readNamespacedSecret({ namespace, name: source.secretName })).data ?? {};
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of items) files[`${mount.mountPath}/${path}`] = Buffer.from(data[key] ?? '', 'base64').toString('utf8');
  }
  return files;
}
