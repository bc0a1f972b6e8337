// Reading a rendered Deployment or DaemonSet the way the kubelet would run it: the container's
// command line with $(VAR) references expanded, and its environment from values, downward-API
// fields and mounted Secret files. Tests hand that to the processes' own config parsers.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { findManifest } from './helm.ts';
import type { Manifest } from './helm.ts';

export interface RunnableContainer {
  readonly pod: V1PodSpec;
  readonly container: V1Container;
  /** args with $(VAR) expanded from `env` */
  readonly args: string[];
  readonly env: Record<string, string>;
}

/** Downward-API values a test pod gets (fieldRef path → value). */
export const FIELD_VALUES: Readonly<Record<string, string>> = {
  'metadata.name': 'floatip-test-pod',
  'metadata.namespace': 'floatip-system',
  'spec.nodeName': 'pool-a-1',
  'status.hostIP': '10.110.0.2',
};

export function runnable(objects: readonly Manifest[], kind: 'Deployment' | 'DaemonSet', name: string, fields = FIELD_VALUES): RunnableContainer {
  const workload = findManifest(objects, kind, name);
  const pod = workload.spec.template.spec as V1PodSpec;
  const container = pod.containers[0];
  if (!container) throw new Error(`${kind} ${name} has no container`);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    const value = e.value ?? (path === undefined ? undefined : fields[path]);
    if (value === undefined) throw new Error(`${kind} ${name}: env ${e.name} has no value a test can give it`);
    env[e.name] = value;
  }
  // Kubernetes expands $(NAME) in args from the container's env; $$ escapes.
  const args = (container.args ?? []).map((a) => a.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string | undefined) => (v === undefined ? '$' : (env[v] ?? m))));
  return { pod, container, args, env };
}

/**
 * The file a Secret volume of the pod shows at `path`: `{ secret, key }` when `path` is an
 * item of a mounted Secret volume, else undefined.
 */
export function secretFileAt(r: RunnableContainer, path: string): { secret: string; key: string } | undefined {
  for (const mount of r.container.volumeMounts ?? []) {
    const volume = r.pod.volumes?.find((v) => v.name === mount.name);
    if (!volume?.secret?.secretName || !path.startsWith(`${mount.mountPath}/`)) continue;
    const file = path.slice(mount.mountPath.length + 1);
    const item = volume.secret.items?.find((i) => i.path === file);
    if (item) return { secret: volume.secret.secretName, key: item.key };
    if (!volume.secret.items) return { secret: volume.secret.secretName, key: file };
  }
  return undefined;
}
