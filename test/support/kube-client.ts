// shared/kube's client on a harness KubeConfig (the admin's, or a service account's), for
// tests of code that takes a KubeClient: the reconciler's informers, leader election.
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient } from '../../shared/kube/client.ts';
import type { KubeClient } from '../../shared/kube/client.ts';
import { kubeconfigConnection } from '../../shared/kube/connection.ts';

export const kubeClientOf = (kc: KubeConfig): KubeClient => createKubeClient(kubeconfigConnection(JSON.parse(kc.exportConfig()), '.'), { maxBodyBytes: 64 * 1024 * 1024 });
