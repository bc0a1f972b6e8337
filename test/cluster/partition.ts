// A node that stops heartbeating, as when its droplet dies or loses the network. kwok renews
// a node's Lease only while it holds it, so taking the Lease over (another holder, a long
// duration) silences the fake kubelet: no renewals, no status updates. After the grace
// period the node lifecycle controller does what it does in production: Ready=Unknown, the
// unreachable taints, and the node's pods marked NotReady. Handing back an expired Lease lets
// kwok acquire it again within one renew interval and report the node Ready. kwok never
// re-readies a pod that already has an IP, so healNode does what the kubelet would on
// reconnecting: report the node's running pods Ready again.
import { ApiException, CoordinationV1Api, CoreV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { readyStatus } from './nodes.ts';
import { waitFor } from './wait.ts';

const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const PARTITION_HOLDER = 'floatip-test-partition';

export interface PartitionOps {
  /** stops the node's heartbeats; resolves once the controller has marked it Ready=Unknown */
  partitionNode(name: string): Promise<void>;
  /** lets kwok heartbeat again; resolves once the node is Ready */
  healNode(name: string): Promise<void>;
}

export function partitionOps(kc: KubeConfig, opts: { graceMs: number }): PartitionOps {
  const leases = kc.makeApiClient(CoordinationV1Api);
  const core = kc.makeApiClient(CoreV1Api);

  // Read-modify-write of the Lease; a 409 means kwok renewed it meanwhile: try again.
  async function rewriteLease(name: string, edit: (lease: V1Lease) => void): Promise<void> {
    await waitFor(`the Lease of node ${name} rewritten`, async () => {
      const lease = await leases.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name });
      edit(lease);
      await leases.replaceNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name, body: lease });
      return true;
    }, { timeoutMs: 10_000, intervalMs: 50 });
  }

  async function markPodsReady(nodeName: string): Promise<void> {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    const readiness = (type: string) => type === 'Ready' || type === 'ContainersReady';
    for (const pod of pods.items) {
      const conditions = pod.status?.conditions ?? [];
      if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') continue;
      if (!conditions.some((c) => readiness(c.type) && c.status !== 'True')) continue;
      const now = new Date();
      pod.status.conditions = conditions.map((c) => (readiness(c.type) ? { type: c.type, status: 'True', lastTransitionTime: now } : c));
      try {
        await core.replaceNamespacedPodStatus({ namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', body: pod });
      } catch (err) {
        // Changed or deleted meanwhile: whoever did that owns the status now.
        if (!(err instanceof ApiException && (err.code === 409 || err.code === 404))) throw err;
      }
    }
  }

  return {
    async partitionNode(name) {
      await rewriteLease(name, (lease) => {
        lease.spec = { ...lease.spec, holderIdentity: PARTITION_HOLDER, leaseDurationSeconds: 3600, renewTime: new V1MicroTime() };
      });
      await waitFor(`node ${name} Ready=Unknown (heartbeats lost)`, async () => readyStatus(await core.readNode({ name })) === 'Unknown', {
        timeoutMs: opts.graceMs + 30_000,
        intervalMs: 250,
      });
    },
    async healNode(name) {
      await rewriteLease(name, (lease) => {
        // Expired long ago: kwok's next attempt takes it over.
        lease.spec = { ...lease.spec, holderIdentity: PARTITION_HOLDER, leaseDurationSeconds: 1, renewTime: new V1MicroTime(0) };
      });
      await waitFor(`node ${name} Ready again`, async () => readyStatus(await core.readNode({ name })) === 'True', {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      await markPodsReady(name);
    },
  };
}
