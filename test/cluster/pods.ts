// Pod readiness as the kubelet reports it. kwok marks a pod Ready once, when it gives it an
// IP, and leaves its conditions alone afterwards, so a test can play a failing readiness
// probe by writing them: the pod keeps running, only Ready and ContainersReady change.
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1PodCondition } from '@kubernetes/client-node';

const READINESS = new Set(['Ready', 'ContainersReady']);

export function readinessConditions(conditions: readonly V1PodCondition[], ready: boolean, now: Date): V1PodCondition[] {
  const status = ready ? 'True' : 'False';
  const rest = conditions.filter((c) => !READINESS.has(c.type));
  const readiness = [...READINESS].map((type): V1PodCondition => {
    const previous = conditions.find((c) => c.type === type);
    const changed = previous?.status !== status;
    return {
      type,
      status,
      lastTransitionTime: changed ? now : previous.lastTransitionTime,
      ...(ready ? {} : { reason: 'ContainersNotReady', message: 'readiness probe failed (set by the floatip test harness)' }),
    };
  });
  return [...rest, ...readiness];
}

export function podOps(kc: KubeConfig): { setPodReady(namespace: string, name: string, ready: boolean): Promise<void> } {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async setPodReady(namespace, name, ready) {
      for (let attempt = 0; ; attempt++) {
        const pod = await core.readNamespacedPod({ namespace, name });
        pod.status = { ...pod.status, conditions: readinessConditions(pod.status?.conditions ?? [], ready, new Date()) };
        try {
          await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
          return;
        } catch (err) {
          if (!(err instanceof ApiException && err.code === 409) || attempt >= 5) throw err;
        }
      }
    },
  };
}
