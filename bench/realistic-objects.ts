// Pods, nodes and node Leases as a DOKS API server sends them (JSON): full spec and status,
// `managedFields`, the labels and annotations DOKS, kubelet and Cilium put there. The scale
// benchmark caches them the way the reconciler's informers do, so its memory figure is the
// one a real cluster costs, not the one of the bare objects the other benchmarks build.
import type { FloatingIpKeys } from '../shared/keys.ts';

type Json = Record<string, unknown>;

const BASE_MS = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);
/** deterministic UUID-shaped strings: the same world every run */
const uuid = (kind: number, i: number) => `${hex(kind, 8)}-${hex(i >>> 16, 4)}-4${hex(i, 3)}-8${hex(i * 7, 3)}-${hex(i * 2654435761, 12)}`;
const digest = (i: number) => `sha256:${hex(i * 2654435761, 16).repeat(4)}`;

/** fieldsV1 with one empty entry per listed path, as the API server records ownership */
function fields(paths: readonly string[]): Json {
  const root: Json = {};
  for (const path of paths) {
    let at = root;
    for (const key of path.split('.')) {
      at[key] ??= { '.': {} };
      at = at[key] as Json;
    }
  }
  return root;
}

export interface RealisticPodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly ips: string;
  readonly workload: string;
  /** seconds before the fixed instant: larger = older */
  readonly ageS: number;
  /** a number that makes uids, IPs and digests differ per pod */
  readonly seq: number;
}

const HASH = '7c9f8d6b5';

export function podJson(keys: FloatingIpKeys, s: RealisticPodSpec): Json {
  const created = BASE_MS - s.ageS * 1000;
  const rsName = `${s.workload}-${HASH}`;
  const rsUid = uuid(0xa11ce, s.workload.length * 100_003 + s.workload.charCodeAt(s.workload.length - 1));
  const podIp = `10.244.${(s.seq >> 8) & 255}.${s.seq & 255}`;
  const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: iso(created + 4000) });
  const image = `registry.digitalocean.com/acme/${s.workload}:1.14.2`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: s.name,
      generateName: `${rsName}-`,
      namespace: s.namespace,
      uid: uuid(0xb0d, s.seq),
      resourceVersion: String(1_000_000 + s.seq),
      creationTimestamp: iso(created),
      labels: { 'app.kubernetes.io/name': s.workload, 'app.kubernetes.io/instance': s.workload, 'app.kubernetes.io/part-of': 'games', 'pod-template-hash': HASH, [keys.label]: 'true' },
      annotations: { [keys.annotation]: s.ips, 'kubectl.kubernetes.io/restartedAt': iso(created - 86_400_000), 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: iso(created),
          fieldsType: 'FieldsV1',
          fieldsV1: fields([
            'f:metadata.f:generateName', 'f:metadata.f:labels.f:app.kubernetes.io/name', 'f:metadata.f:labels.f:app.kubernetes.io/instance', 'f:metadata.f:labels.f:app.kubernetes.io/part-of',
            'f:metadata.f:labels.f:pod-template-hash', 'f:metadata.f:annotations.f:kubectl.kubernetes.io/restartedAt', 'f:metadata.f:annotations.f:prometheus.io/scrape', 'f:metadata.f:annotations.f:prometheus.io/port',
            `f:metadata.f:ownerReferences.k:{"uid":"${rsUid}"}`, 'f:spec.f:containers.k:{"name":"app"}.f:image', 'f:spec.f:containers.k:{"name":"app"}.f:imagePullPolicy',
            'f:spec.f:containers.k:{"name":"app"}.f:name', 'f:spec.f:containers.k:{"name":"app"}.f:ports.k:{"containerPort":7777,"protocol":"UDP"}.f:containerPort',
            'f:spec.f:containers.k:{"name":"app"}.f:ports.k:{"containerPort":9090,"protocol":"TCP"}.f:containerPort', 'f:spec.f:containers.k:{"name":"app"}.f:readinessProbe.f:httpGet.f:path',
            'f:spec.f:containers.k:{"name":"app"}.f:resources.f:limits.f:cpu', 'f:spec.f:containers.k:{"name":"app"}.f:resources.f:limits.f:memory', 'f:spec.f:containers.k:{"name":"app"}.f:resources.f:requests.f:cpu',
            'f:spec.f:containers.k:{"name":"app"}.f:env.k:{"name":"GAME_PORT"}.f:value', 'f:spec.f:containers.k:{"name":"app"}.f:env.k:{"name":"LOG_LEVEL"}.f:value', 'f:spec.f:dnsPolicy', 'f:spec.f:enableServiceLinks',
            'f:spec.f:restartPolicy', 'f:spec.f:schedulerName', 'f:spec.f:securityContext', 'f:spec.f:terminationGracePeriodSeconds',
          ]),
        },
        { manager: 'floatip-webhook', operation: 'Update', apiVersion: 'v1', time: iso(created), fieldsType: 'FieldsV1', fieldsV1: fields([`f:metadata.f:labels.f:${keys.label}`]) },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: iso(created + 4000),
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: fields([
            'f:status.f:conditions.k:{"type":"ContainersReady"}.f:status', 'f:status.f:conditions.k:{"type":"Initialized"}.f:status', 'f:status.f:conditions.k:{"type":"PodReadyToStartContainers"}.f:status',
            'f:status.f:conditions.k:{"type":"Ready"}.f:status', 'f:status.f:containerStatuses', 'f:status.f:hostIP', 'f:status.f:hostIPs', 'f:status.f:phase', 'f:status.f:podIP',
            `f:status.f:podIPs.k:{"ip":"${podIp}"}.f:ip`, 'f:status.f:startTime',
          ]),
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
        { name: 'config', configMap: { name: `${s.workload}-config`, defaultMode: 420 } },
      ],
      containers: [
        {
          name: 'app',
          image,
          ports: [
            { name: 'game', containerPort: 7777, protocol: 'UDP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'GAME_PORT', value: '7777' },
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
            { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
          ],
          resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
          volumeMounts: [
            { name: 'config', readOnly: true, mountPath: '/etc/game' },
            { name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
          readinessProbe: { httpGet: { path: '/ready', port: 9090, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 5, successThreshold: 1, failureThreshold: 3 },
          livenessProbe: { httpGet: { path: '/healthz', port: 9090, scheme: 'HTTP' }, initialDelaySeconds: 10, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      nodeName: s.nodeName,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
      hostIP: s.nodeIp,
      hostIPs: [{ ip: s.nodeIp }],
      podIP: podIp,
      podIPs: [{ ip: podIp }],
      startTime: iso(created + 1000),
      containerStatuses: [
        {
          name: 'app',
          state: { running: { startedAt: iso(created + 3000) } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image,
          imageID: `registry.digitalocean.com/acme/${s.workload}@${digest(s.seq % 97)}`,
          containerID: `containerd://${hex(s.seq * 2654435761, 16).repeat(4)}`,
          started: true,
          volumeMounts: [
            { name: 'config', mountPath: '/etc/game', readOnly: true, recursiveReadOnly: 'Disabled' },
            { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true, recursiveReadOnly: 'Disabled' },
          ],
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

const IMAGES = [
  'cilium/cilium', 'cilium/operator-generic', 'coredns/coredns', 'digitalocean/cpbridge', 'digitalocean/do-csi-plugin', 'digitalocean/do-agent', 'kube-proxy', 'pause',
  'csi-node-driver-registrar', 'livenessprobe', 'csi-attacher', 'csi-provisioner', 'csi-snapshotter', 'csi-resizer', 'snapshot-controller', 'metrics-server', 'konnectivity-agent',
  'hubble-relay', 'acme/app', 'acme/sidecar', 'fluent-bit', 'node-exporter', 'kube-state-metrics', 'nginx', 'redis',
];

export function nodeJson(name: string, dropletId: number, i: number, ready = true): Json {
  const created = BASE_MS - 30 * 86_400_000 + i * 1000;
  const ip = `10.20.${(i >> 8) & 255}.${i & 255}`;
  const publicIp = `159.203.${(i >> 8) & 255}.${i & 255}`;
  const heartbeat = iso(BASE_MS);
  const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: heartbeat, lastTransitionTime: iso(created + 60_000), reason, message });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: uuid(0xd0d, i),
      resourceVersion: String(2_000_000 + i),
      creationTimestamp: iso(created),
      labels: {
        'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/instance-type': 's-4vcpu-8gb', 'beta.kubernetes.io/os': 'linux', 'doks.digitalocean.com/managed': 'true',
        'doks.digitalocean.com/node-id': uuid(0xe0e, i), 'doks.digitalocean.com/node-pool': 'pool-b', 'doks.digitalocean.com/node-pool-id': uuid(0xf0f, 1), 'doks.digitalocean.com/version': '1.33.1-do.0',
        'failure-domain.beta.kubernetes.io/region': 'nyc3', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 's-4vcpu-8gb',
        region: 'nyc3', 'topology.kubernetes.io/region': 'nyc3',
      },
      annotations: {
        'alpha.kubernetes.io/provided-node-ip': ip, 'csi.volume.kubernetes.io/nodeid': `{"dobs.csi.digitalocean.com":"${dropletId}"}`, 'io.cilium.network.ipv4-cilium-host': `10.244.${i & 255}.57`,
        'io.cilium.network.ipv4-health-ip': `10.244.${i & 255}.121`, 'io.cilium.network.ipv4-pod-cidr': `10.244.${i & 255}.0/25`, 'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
      managedFields: [
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: iso(created), fieldsType: 'FieldsV1', fieldsV1: fields(['f:metadata.f:annotations.f:alpha.kubernetes.io/provided-node-ip', 'f:metadata.f:labels.f:kubernetes.io/hostname', 'f:spec.f:providerID']) },
        { manager: 'cilium-agent', operation: 'Update', apiVersion: 'v1', time: iso(created + 30_000), fieldsType: 'FieldsV1', fieldsV1: fields(['f:metadata.f:annotations.f:io.cilium.network.ipv4-cilium-host', 'f:metadata.f:annotations.f:io.cilium.network.ipv4-pod-cidr']) },
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: iso(created + 60_000), fieldsType: 'FieldsV1', fieldsV1: fields(['f:metadata.f:annotations.f:node.alpha.kubernetes.io/ttl', 'f:spec.f:podCIDR', 'f:spec.f:podCIDRs']) },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: heartbeat,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: fields(['f:status.f:allocatable.f:cpu', 'f:status.f:allocatable.f:memory', 'f:status.f:capacity.f:cpu', 'f:status.f:conditions.k:{"type":"Ready"}.f:lastHeartbeatTime', 'f:status.f:images', 'f:status.f:nodeInfo.f:bootID']),
        },
      ],
    },
    spec: { podCIDR: `10.244.${i & 255}.0/25`, podCIDRs: [`10.244.${i & 255}.0/25`], providerID: `digitalocean://${dropletId}` },
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '165186500Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '8148172Ki', pods: '110' },
      allocatable: { cpu: '3900m', 'ephemeral-storage': '152234966898', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '6933Mi', pods: '110' },
      conditions: [
        condition('NetworkUnavailable', 'False', 'CiliumIsUp', 'Cilium is running on this node'),
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        ready ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status') : condition('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
      ],
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'ExternalIP', address: publicIp },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(i * 2654435761, 16).repeat(2), systemUUID: uuid(0x5a5, i), bootID: uuid(0xb00, i), kernelVersion: '6.1.0-31-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.27', kubeletVersion: 'v1.33.1', kubeProxyVersion: 'v1.33.1', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: IMAGES.map((img, k) => ({ names: [`registry.k8s.io/${img}@${digest(k)}`, `registry.k8s.io/${img}:v1.${k}.0`], sizeBytes: 10_000_000 + k * 3_141_593 })),
    },
  };
}

/** The kubelet's heartbeat object, kube-node-lease/<node>. */
export function leaseJson(node: string, i: number, renewMs: number): Json {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node,
      namespace: 'kube-node-lease',
      uid: uuid(0x1ea, i),
      resourceVersion: String(3_000_000 + i),
      creationTimestamp: iso(BASE_MS - 30 * 86_400_000),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: uuid(0xd0d, i) }],
      managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'coordination.k8s.io/v1', time: iso(renewMs), fieldsType: 'FieldsV1', fieldsV1: fields(['f:spec.f:holderIdentity', 'f:spec.f:leaseDurationSeconds', 'f:spec.f:renewTime']) }],
    },
    spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: new Date(renewMs).toISOString().replace('Z', '000Z') },
  };
}
