// Fake DOKS worker nodes. kwok plays the kubelet for every node carrying KWOK_ANNOTATION:
// it holds the node lease, sets Ready and runs the pods scheduled there. To make a node
// NotReady we mark it with KWOK_DISREGARD (kwok then leaves its status alone while still
// renewing the lease, like a kubelet that reports NotReady) and write Ready=False ourselves.
// The node lifecycle controller taints it; its pods keep their Ready status, as with a real
// kubelet that reports NotReady (only a node whose heartbeats stop has its pods marked
// NotReady by the controller, which this harness does not simulate).
import { ApiException, CoreV1Api, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { KubeConfig, V1Node, V1NodeCondition } from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

export const KWOK_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;
export const KWOK_DISREGARD = { key: 'kwok.x-k8s.io/status', value: 'custom' } as const;
export const NODE_REGION = 'nyc3';
export const NODE_POOL = 'pool-a';
/** DigitalOcean VPC addresses of the nodes (InternalIP), 10.116.0.0/20 as in a DOKS region's default VPC */
export const VPC_PREFIX_LENGTH = 20;
export function internalIpOf(dropletId: number): string {
  return `10.116.${Math.floor(dropletId / 256) % 16}.${dropletId % 256}`;
}

export interface NodeOptions {
  readonly dropletId: number;
  /** default true: wait until kwok reports the node Ready */
  readonly ready?: boolean;
  /** merged over the DOKS-like defaults */
  readonly labels?: Record<string, string>;
}

export function fakeNode(name: string, opts: NodeOptions): V1Node {
  const ready = opts.ready ?? true;
  const resources = { cpu: '4', memory: '8Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // The labels DOKS puts on its workers (node-pool, region, instance type, droplet id).
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 's-2vcpu-4gb',
        'topology.kubernetes.io/region': NODE_REGION,
        region: NODE_REGION,
        'doks.digitalocean.com/node-pool': NODE_POOL,
        'doks.digitalocean.com/node-id': String(opts.dropletId),
        ...opts.labels,
      },
      annotations: {
        [KWOK_ANNOTATION.key]: KWOK_ANNOTATION.value,
        ...(ready ? {} : { [KWOK_DISREGARD.key]: KWOK_DISREGARD.value }),
      },
    },
    spec: { providerID: `digitalocean://${opts.dropletId}` },
    status: {
      // The droplet's VPC address, as on DOKS (kwok keeps addresses it finds); the packet lab
      // gives each droplet namespace this address on its VPC interface.
      addresses: [
        { type: 'InternalIP', address: internalIpOf(opts.dropletId) },
        { type: 'Hostname', address: name },
      ],
      allocatable: resources,
      capacity: resources,
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
        containerRuntimeVersion: 'fake',
        kernelVersion: 'fake',
        osImage: 'fake',
        bootID: '',
        machineID: '',
        systemUUID: '',
      },
    },
  };
}

export function readyStatus(node: V1Node | undefined): string | undefined {
  return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

const isNotFound = (err: unknown) => err instanceof ApiException && err.code === 404;
const isConflict = (err: unknown) => err instanceof ApiException && err.code === 409;

export interface NodeOps {
  addNode(name: string, opts: NodeOptions): Promise<void>;
  deleteNode(name: string): Promise<void>;
  setNodeReady(name: string, ready: boolean): Promise<void>;
}

export function nodeOps(kc: KubeConfig, opts: { kwok: boolean }): NodeOps {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const waitReady = (name: string, want: string) =>
    waitFor(`node ${name} Ready=${want}`, async () => readyStatus(await core.readNode({ name })) === want, {
      timeoutMs: 30_000,
    });

  async function setAnnotation(name: string, key: string, value: string | null): Promise<void> {
    await objects.patch(
      { apiVersion: 'v1', kind: 'Node', metadata: { name, annotations: { [key]: value } } } as never,
      undefined,
      undefined,
      'floatip-test',
      undefined,
      PatchStrategy.MergePatch,
    );
  }

  // Writes the Ready condition as a kubelet would (read-modify-write, retried on conflict).
  async function writeReadyCondition(name: string, status: 'True' | 'False'): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const node = await core.readNode({ name });
      const now = new Date();
      const others = (node.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
      const previous = node.status?.conditions?.find((c) => c.type === 'Ready');
      const ready: V1NodeCondition = {
        type: 'Ready',
        status,
        reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady',
        message: status === 'True' ? 'kubelet is posting ready status' : 'set NotReady by the floatip test harness',
        lastHeartbeatTime: now,
        lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now,
      };
      node.status = { ...node.status, conditions: [...others, ready] };
      try {
        await core.replaceNodeStatus({ name, body: node });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  return {
    async addNode(name, nodeOpts) {
      const ready = nodeOpts.ready ?? true;
      await core.createNode({ body: fakeNode(name, nodeOpts) });
      if (!ready) await writeReadyCondition(name, 'False');
      else if (opts.kwok) await waitReady(name, 'True');
    },
    async deleteNode(name) {
      try {
        await core.deleteNode({ name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await waitFor(`node ${name} deleted`, () =>
        core.readNode({ name }).then(
          () => false,
          (err: unknown) => {
            if (isNotFound(err)) return true;
            throw err;
          },
        ),
      );
    },
    async setNodeReady(name, ready) {
      if (ready) {
        // Hand the status back to kwok: its node-initialize stage re-readies any node that
        // is not Ready. Without kwok we write the condition ourselves.
        await setAnnotation(name, KWOK_DISREGARD.key, null);
        if (opts.kwok) await waitReady(name, 'True');
        else await writeReadyCondition(name, 'True');
      } else {
        // The annotation first: kwok must see it before the status change, or it would
        // immediately set Ready=True again.
        await setAnnotation(name, KWOK_DISREGARD.key, KWOK_DISREGARD.value);
        await writeReadyCondition(name, 'False');
      }
    },
  };
}
