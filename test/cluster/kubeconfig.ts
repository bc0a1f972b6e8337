// Kubeconfigs for the test control plane: files for the Go components (and for a developer
// who wants to poke at a running cluster with kubectl), objects for the TypeScript tests.
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Pem } from './certs.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

export type Credentials = { readonly clientCert: Pem } | { readonly token: string };

/** A kubeconfig document with one cluster, user and context, all named `floatip-test`. */
export function kubeConfigYaml(server: string, caPem: string, creds: Credentials): string {
  const user =
    'token' in creds
      ? { token: creds.token }
      : { 'client-certificate-data': b64(creds.clientCert.cert), 'client-key-data': b64(creds.clientCert.key) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'floatip-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: 'floatip-test', user }],
    contexts: [{ name: 'floatip-test', context: { cluster: 'floatip-test', user: 'floatip-test' } }],
    'current-context': 'floatip-test',
  });
}

export function kubeConfigFor(server: string, caPem: string, creds: Credentials): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeConfigYaml(server, caPem, creds));
  return kc;
}
