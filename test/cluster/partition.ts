// A node that stops heartbeating, as when its droplet dies or loses the network: its kubelet
// (kwok) simply writes nothing more. A ValidatingAdmissionPolicy refuses kwok's user every
// write for a node listed in one ConfigMap: its Lease, its status, its pods' status and their
// final deletion. So the Lease stays exactly as a dead kubelet leaves it (same holder, same
// leaseDurationSeconds, renewTime frozen) and whoever watches Leases sees it age. After the
// grace period the node lifecycle controller does what it does in production: Ready=Unknown,
// the unreachable taints, and the node's pods marked NotReady.
// Healing removes the node from the ConfigMap: kwok's next renewal (every duration/4) goes
// through. kwok dropped the status writes that were refused and only retries on a change of
// the node, so healNode touches an annotation until kwok has reported the node Ready; and as
// kwok never re-readies a pod that already has an IP, it reports the node's running pods Ready
// again and lets kwok finish the deletions it was refused, as a reconnecting kubelet would.
import { ApiException, CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { applyObjects } from './manifests.ts';
import { readyStatus } from './nodes.ts';
import { waitFor } from './wait.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const PARTITION_POLICY = 'floatip-test-partition';
/** data keys are the names of the partitioned nodes */
export const PARTITIONS = { namespace: 'kube-system', name: 'floatip-test-partitions' } as const;
const HEAL_ANNOTATION = 'floatip.test/healed-at';
const DENIED = 'partitioned by the floatip test harness';

/** The node Lease as the partition froze it. */
export interface NodeLeaseSnapshot {
  readonly holderIdentity: string | undefined;
  readonly leaseDurationSeconds: number | undefined;
  readonly renewTime: Date | undefined;
  readonly resourceVersion: string | undefined;
}

export interface PartitionOps {
  /**
   * Silences the node's kubelet. By default resolves once the node controller has marked
   * the node Ready=Unknown (after the grace period); with `awaitUnknown: false` as soon as
   * kwok's writes are refused. Returns the Lease as it was left.
   */
  partitionNode(name: string, opts?: { awaitUnknown?: boolean }): Promise<NodeLeaseSnapshot>;
  /** lets kwok heartbeat again; resolves once the Lease was renewed, the node is Ready and its running pods too */
  healNode(name: string): Promise<void>;
}

/**
 * The policy, its binding and the (empty) parameter ConfigMap. Only `kwokUser` is matched:
 * the tests, the controller-manager and floatip keep writing as before.
 */
export function partitionPolicyObjects(kwokUser: string): KubernetesObject[] {
  // `target` is the node a request writes for; '' for anything else.
  const target = [
    "request.resource.resource == 'nodes' ? request.name :",
    `request.resource.resource == 'leases' ? (request.namespace == '${NODE_LEASE_NAMESPACE}' ? request.name : '') :`,
    "request.operation == 'DELETE' ? (has(oldObject.spec.nodeName) ? oldObject.spec.nodeName : '') :",
    "(has(object.spec.nodeName) ? object.spec.nodeName : '')",
  ].join(' ');
  const rule = (apiGroup: string, resources: string[], operations: string[]) => ({ apiGroups: [apiGroup], apiVersions: ['*'], resources, operations });
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: PARTITION_POLICY },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        matchConstraints: {
          resourceRules: [
            rule('coordination.k8s.io', ['leases'], ['CREATE', 'UPDATE', 'DELETE']),
            rule('', ['nodes', 'nodes/status'], ['UPDATE', 'DELETE']),
            rule('', ['pods', 'pods/status'], ['UPDATE', 'DELETE']),
          ],
        },
        matchConditions: [{ name: 'kwok-only', expression: `request.userInfo.username == '${kwokUser}'` }],
        variables: [{ name: 'target', expression: target }],
        validations: [
          {
            expression: '!has(params.data) || !(variables.target in params.data)',
            messageExpression: `'node ' + variables.target + ' is ${DENIED} (partitionNode): its kubelet writes nothing until healNode'`,
            reason: 'Forbidden',
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: PARTITION_POLICY },
      spec: {
        policyName: PARTITION_POLICY,
        validationActions: ['Deny'],
        paramRef: { ...PARTITIONS, parameterNotFoundAction: 'Allow' },
      },
    } as KubernetesObject,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...PARTITIONS } } as KubernetesObject,
  ];
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const bodyText = (err: ApiException<unknown>) => (typeof err.body === 'string' ? err.body : JSON.stringify(err.body));

/** `admin` writes the policy and the ConfigMap; `kwok` (kwok's own credentials) probes whether they bite. */
export function partitionOps(admin: KubeConfig, kwok: KubeConfig, opts: { graceMs: number; kwokUser: string }): PartitionOps {
  const leases = admin.makeApiClient(CoordinationV1Api);
  const core = admin.makeApiClient(CoreV1Api);
  const kwokLeases = kwok.makeApiClient(CoordinationV1Api);
  let installed: Promise<void> | undefined;

  // Installed on first use: a control plane that never partitions pays nothing. kube-system
  // is created by the API server shortly after it reports ready.
  const install = () =>
    (installed ??= waitFor('the partition policy installed', async () => {
      await applyObjects(admin, partitionPolicyObjects(opts.kwokUser));
      return true;
    }, { timeoutMs: 30_000, intervalMs: 250 }).then(
      () => undefined,
      (err: unknown) => {
        installed = undefined;
        throw err;
      },
    ));

  const setPartitioned = (name: string, on: boolean) =>
    core.patchNamespacedConfigMap({ ...PARTITIONS, body: { data: { [name]: on ? 'partitioned' : null } } }, mergePatch);

  /** Whether kwok may write the node's Lease right now: a dry-run update as kwok's user. */
  async function kwokMayWrite(name: string): Promise<boolean | undefined> {
    const lease = await leases.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name });
    try {
      await kwokLeases.replaceNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name, body: lease, dryRun: 'All' });
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 403 && bodyText(err).includes(DENIED)) return false;
      if (err instanceof ApiException && err.code === 409) return undefined; // kwok renewed meanwhile: ask again
      throw err;
    }
  }

  async function snapshot(name: string): Promise<NodeLeaseSnapshot> {
    const lease = await leases.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name });
    const renew = lease.spec?.renewTime;
    return {
      holderIdentity: lease.spec?.holderIdentity,
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
      renewTime: renew === undefined ? undefined : new Date(renew),
      resourceVersion: lease.metadata?.resourceVersion,
    };
  }

  // What a reconnecting kubelet does with its pods: report the running ones Ready again and
  // finish deleting the ones deleted meanwhile (kwok retries a refused deletion on the pod's
  // next change only: a touch).
  async function resumePods(nodeName: string): Promise<void> {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    const readiness = (type: string) => type === 'Ready' || type === 'ContainersReady';
    for (const pod of pods.items) {
      const conditions = pod.status?.conditions ?? [];
      const ref = { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' };
      if (pod.metadata?.deletionTimestamp) {
        await core
          .patchNamespacedPod({ ...ref, body: { metadata: { annotations: { [HEAL_ANNOTATION]: new Date().toISOString() } } } }, mergePatch)
          .catch((err: unknown) => {
            if (!(err instanceof ApiException && err.code === 404)) throw err;
          });
        continue;
      }
      if (pod.status?.phase !== 'Running') continue;
      if (!conditions.some((c) => readiness(c.type) && c.status !== 'True')) continue;
      const now = new Date();
      pod.status.conditions = conditions.map((c) => (readiness(c.type) ? { type: c.type, status: 'True', lastTransitionTime: now } : c));
      try {
        await core.replaceNamespacedPodStatus({ ...ref, body: pod });
      } catch (err) {
        // Changed or deleted meanwhile: whoever did that owns the status now.
        if (!(err instanceof ApiException && (err.code === 409 || err.code === 404))) throw err;
      }
    }
  }

  return {
    async partitionNode(name, partitionOpts = {}) {
      await install();
      await setPartitioned(name, true);
      // The API server applies a changed parameter within milliseconds; until the probe is
      // refused, kwok may still renew.
      await waitFor(`kwok's writes for node ${name} refused`, async () => (await kwokMayWrite(name)) === false, { timeoutMs: 10_000, intervalMs: 20 });
      const lease = await snapshot(name);
      if (partitionOpts.awaitUnknown ?? true) {
        await waitFor(`node ${name} Ready=Unknown (heartbeats lost)`, async () => readyStatus(await core.readNode({ name })) === 'Unknown', {
          timeoutMs: opts.graceMs + 30_000,
          intervalMs: 250,
        });
      }
      return lease;
    },
    async healNode(name) {
      const frozen = await snapshot(name);
      await setPartitioned(name, false);
      await waitFor(`kwok's writes for node ${name} allowed again`, async () => (await kwokMayWrite(name)) === true, { timeoutMs: 10_000, intervalMs: 20 });
      await waitFor(`kwok to renew the Lease of node ${name}`, async () => (await snapshot(name)).resourceVersion !== frozen.resourceVersion, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      let touched = 0;
      await waitFor(`node ${name} Ready again`, async () => {
        if (readyStatus(await core.readNode({ name })) === 'True') return true;
        // kwok acts on node changes only; a touch every 2 s until it has re-readied the node.
        if (Date.now() - touched > 2_000) {
          touched = Date.now();
          await core.patchNode({ name, body: { metadata: { annotations: { [HEAL_ANNOTATION]: new Date().toISOString() } } } }, mergePatch);
        }
        return false;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      await resumePods(name);
    },
  };
}
