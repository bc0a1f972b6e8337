// Command lines of the control-plane components. Everything binds to 127.0.0.1; timings are
// shortened so a lost node is noticed in seconds instead of the upstream 50 s (unless a test
// asks for upstream timing: `nodeMonitorGracePeriodMs`).
import { join } from 'node:path';

export interface Layout {
  readonly dir: string;
  readonly etcdPort: number;
  readonly etcdPeerPort: number;
  readonly apiPort: number;
  readonly cmPort: number;
  readonly schedulerPort: number;
}

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/12';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** kwok renews each node lease every duration/4 (2 s); the controller-manager's grace
 * period spans several renewals so a busy 2-core machine does not flap nodes. */
export const NODE_LEASE_SECONDS = 8;
export const NODE_MONITOR_GRACE_MS = 10_000;
/** the controller-manager's upstream default `--node-monitor-grace-period` */
export const UPSTREAM_NODE_MONITOR_GRACE_MS = 50_000;

export interface Timing {
  /** default NODE_MONITOR_GRACE_MS */
  readonly nodeMonitorGracePeriodMs?: number;
  /** kwok's node Lease duration (renewed every quarter of it); default NODE_LEASE_SECONDS, upstream's kubelet 40 */
  readonly nodeLeaseDurationSeconds?: number;
}
/** the kubelet's upstream nodeLeaseDurationSeconds (renewed every 10 s) */
export const UPSTREAM_NODE_LEASE_SECONDS = 40;

export function componentArgs(l: Layout, timing: Timing = {}): Record<'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok', string[]> {
  const f = (name: string) => join(l.dir, name);
  const etcdUrl = `http://127.0.0.1:${l.etcdPort}`;
  const peerUrl = `http://127.0.0.1:${l.etcdPeerPort}`;
  // The controller-manager and scheduler delegate authn/authz of their own /healthz etc.
  const delegated = (kubeconfig: string) => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false', // one instance: skip the lease round-trips at start-up
    '--bind-address=127.0.0.1',
  ];
  return {
    etcd: [
      '--name=floatip-test',
      `--data-dir=${f('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=floatip-test=${peerUrl}`,
      '--unsafe-no-fsync', // throwaway data; fsync dominates write latency on shared disks
      '--log-level=warn',
    ],
    'kube-apiserver': [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The kubernetes Service's endpoints may not be loopback, and nothing here needs them.
      '--endpoint-reconciler-type=none',
      `--secure-port=${l.apiPort}`,
      `--cert-dir=${f('apiserver-certs')}`,
      `--tls-cert-file=${f('apiserver.crt')}`,
      `--tls-private-key-file=${f('apiserver.key')}`,
      `--client-ca-file=${f('ca.crt')}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      '--allow-privileged=true',
      // The default admission plugin set stays on (ServiceAccount, webhooks, quotas, ...).
      '--enable-admission-plugins=NodeRestriction',
      '--profiling=false',
      '--v=1',
    ],
    'kube-controller-manager': [
      ...delegated(f('controller-manager.kubeconfig')),
      `--secure-port=${l.cmPort}`,
      `--cert-dir=${f('controller-manager-certs')}`,
      '--controllers=*', // in-tree cloud controllers no longer exist in 1.37
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${f('sa.key')}`,
      `--root-ca-file=${f('ca.crt')}`,
      `--cluster-signing-cert-file=${f('ca.crt')}`,
      `--cluster-signing-key-file=${f('ca.key')}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      '--node-monitor-period=1s',
      `--node-monitor-grace-period=${timing.nodeMonitorGracePeriodMs ?? NODE_MONITOR_GRACE_MS}ms`,
      '--node-startup-grace-period=10s',
      '--profiling=false',
      '--v=1',
    ],
    'kube-scheduler': [
      ...delegated(f('scheduler.kubeconfig')),
      `--secure-port=${l.schedulerPort}`,
      `--cert-dir=${f('scheduler-certs')}`,
      '--profiling=false',
      '--v=1',
    ],
    kwok: [
      // Its own user (admin rights): partition.ts denies that user's writes for one node.
      `--kubeconfig=${f('kwok.kubeconfig')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      // Nodes so marked keep their lease but kwok leaves their status to the test.
      '--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom',
      `--node-lease-duration-seconds=${timing.nodeLeaseDurationSeconds ?? NODE_LEASE_SECONDS}`,
      '--cidr=10.244.0.0/16',
    ],
  };
}
