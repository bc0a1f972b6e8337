// The webhook behind a real kube-apiserver: registered from deploy/ (Service reference
// rewritten to a loopback URL), so admission chaining, the exact denial text, matchConditions
// and failurePolicy are Kubernetes' own behaviour, not a fake's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { registerWebhooks, startControlPlane, waitFor } from './cluster/harness.ts';
import type { ControlPlane } from './cluster/harness.ts';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import { createLogger } from '../shared/logger.ts';
import { startWebhookServer } from '../webhook/server.ts';
import type { RunningWebhookServer } from '../webhook/server.ts';
import { createCertificateAuthority, generateLoopbackTls, issueServingCertificate } from '../webhook/tls/certs.ts';
import { DEFAULT_POLICY } from '../webhook/tls/rotation.ts';
import { startSelfManagedTls } from '../webhook/tls/self-managed.ts';
import { kubeCaBundleTarget, kubeSecretStore } from '../webhook/tls/kube.ts';
import { createKubeClient } from '../shared/kube/client.ts';
import { kubeconfigConnection } from '../shared/kube/connection.ts';
import { rejection } from './child-output.ts';

const KEY = 'k8s.haim.dev/floating-ip';
const BAD_IP_MESSAGE =
  'annotation k8s.haim.dev/floating-ip: "104.248.100" is not an IPv4 or IPv6 address (expected e.g. 104.248.100.100 or 2604:a880:800:14::1)';

function deployment(name: string, annotation?: string): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, ...(annotation === undefined ? {} : { annotations: { [KEY]: annotation } }) },
        spec: { containers: [{ name: 'app', image: 'nginx:1.29' }] },
      },
    },
  };
}

function pod(name: string, annotations?: Record<string, string>): V1Pod {
  return { metadata: { name, annotations }, spec: { containers: [{ name: 'app', image: 'nginx:1.29' }] } };
}


describe('webhook behind the real API server', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  const tls = generateLoopbackTls();
  let webhook: RunningWebhookServer;

  before(async () => {
    // Admission needs neither scheduling nor kubelets: the API server alone is enough.
    [cp, webhook] = await Promise.all([
      startControlPlane({ controllerManager: false, scheduler: false, kwok: false }),
      // namespace shop may claim one IP; every other namespace any (the other cases use default)
      startWebhookServer({
        tls: { cert: tls.certPem, key: tls.keyPem },
        ipPolicy: parseIpPolicy('namespaces:\n  shop: ["104.248.100.100"]\n  "*": ["0.0.0.0/0", "::/0"]\n'),
      }),
    ]);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    await registerWebhooks(cp, { url: webhook.url, caBundlePem: tls.caPem });
    // The API server picks up webhook configurations asynchronously; a dry run shows when.
    await waitFor('the validating webhook to be active', async () => {
      const r = await rejection(
        apps.createNamespacedDeployment({ namespace: 'default', body: deployment('probe', '104.248.100'), dryRun: 'All' }),
      ).catch(() => undefined);
      return r?.code === 403;
    });
  });
  after(async () => {
    await webhook?.close({ graceMs: 0 });
    await cp?.stop();
  });

  test('a Deployment with a bad address is rejected with the exact message', async () => {
    const r = await rejection(
      apps.createNamespacedDeployment({ namespace: 'default', body: deployment('traefik', '104.248.100') }),
    );
    assert.deepEqual(r, {
      code: 403,
      message: `admission webhook "validate.floatip.k8s.haim.dev" denied the request: Deployment default/traefik: ${BAD_IP_MESSAGE}`,
    });
    assert.equal((await core.listNamespacedPod({ namespace: 'default' })).items.length, 0);
  });

  test('a 200 KiB annotation and an IANA special-purpose address are denied with the exact message', async () => {
    const denied = 'admission webhook "validate.floatip.k8s.haim.dev" denied the request:';
    const long = `104.248.100.100${' '.repeat(200 * 1024)}`;
    assert.deepEqual(await rejection(apps.createNamespacedDeployment({ namespace: 'default', body: deployment('long', long) })), {
      code: 403,
      message: `${denied} Deployment default/long: annotation ${KEY}: the value is ${long.length} bytes long, more than the 4096 bytes a list of reserved IPs may take (expected e.g. 104.248.100.100, 2604:a880:800:14::1)`,
    });
    assert.deepEqual(await rejection(core.createNamespacedPod({ namespace: 'default', body: pod('bench-0', { [KEY]: '2001:2::1' }) })), {
      code: 403,
      message: `${denied} Pod default/bench-0: annotation ${KEY}: "2001:2::1" is a benchmarking address (2001:2::/48, RFC 5180) and can never be a DigitalOcean reserved IP (expected a public reserved IP such as 104.248.100.100 or 2604:a880:800:14::1)`,
    });
  });

  test('the namespace IP policy: a Deployment in shop is denied an IP shop may not claim, and admitted with its own', async () => {
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
    assert.deepEqual(await rejection(apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('web', '104.248.100.101') })), {
      code: 403,
      message: `admission webhook "validate.floatip.k8s.haim.dev" denied the request: Deployment shop/web: annotation ${KEY}: reserved IP 104.248.100.101 may not be claimed in namespace shop (floatip IP policy allows here: 104.248.100.100)`,
    });
    const created = await apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('web', '104.248.100.100') });
    assert.equal(created.spec?.template.metadata?.annotations?.[KEY], '104.248.100.100');
  });

  test('a valid Deployment is admitted unchanged', async () => {
    const created = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: deployment('edge', '104.248.100.100, 2604:a880:800:14::1000'),
    });
    assert.equal(created.spec?.template.metadata?.annotations?.[KEY], '104.248.100.100, 2604:a880:800:14::1000');
    assert.equal(created.spec?.template.metadata?.labels?.[KEY], undefined);
  });

  test('an annotated Pod created through the API server gets the label', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('edge-0', { [KEY]: '104.248.100.101' }) });
    assert.deepEqual(created.metadata?.labels, { [KEY]: 'true' });
    const read = await core.readNamespacedPod({ namespace: 'default', name: 'edge-0' });
    assert.deepEqual(read.metadata?.labels, { [KEY]: 'true' });
  });

  test('objects without the key never reach the webhook (matchConditions)', async () => {
    const reviews = async () => (await webhook.metrics.reviews.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await reviews();
    await core.createNamespacedPod({ namespace: 'default', body: pod('quiet-0') });
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('quiet') });
    assert.equal(await reviews(), before);
    // The control: one annotated Pod is one mutating and one validating review.
    await core.createNamespacedPod({ namespace: 'default', body: pod('loud-0', { [KEY]: '104.248.100.101' }) });
    assert.equal(await reviews(), before + 2);
  });

  test(
    'self-managed TLS: as floatip-webhook with the deploy/ RBAC it writes the Secret and the caBundle the API server then trusts',
    async () => {
      await cp.applyManifests('deploy/manifests/namespace.yaml');
      await cp.applyManifests('deploy/manifests/webhook-rbac.yaml');
      // the webhook's own small client, from the service account's kubeconfig
      const kc = createKubeClient(kubeconfigConnection(JSON.parse((await cp.kubeConfigForServiceAccount('floatip-system', 'floatip-webhook')).exportConfig()), '.'));
      // Starts out with a stranger's CA and certificate. After the sync the caBundle holds
      // exactly the CA from the Secret (asserted) and the server serves the cert it signed,
      // so an admitted review proves the API server trusts what the webhook manages itself.
      const stranger = generateLoopbackTls();
      const server = await startWebhookServer({ tls: { cert: stranger.certPem, key: stranger.keyPem } });
      try {
        await registerWebhooks(cp, { url: server.url, caBundlePem: stranger.caPem });
        const managed = await startSelfManagedTls({
          store: kubeSecretStore(kc, 'floatip-system', 'floatip-webhook-tls'),
          bundle: kubeCaBundleTarget(kc, 'floatip', 'floatip'),
          hosts: ['127.0.0.1'],
          policy: DEFAULT_POLICY,
          factory: {
            newCa: (now) => createCertificateAuthority({ now, validityMs: DEFAULT_POLICY.caValidityMs }),
            issue: (ca, now, hosts) => issueServingCertificate(ca, { now, validityMs: DEFAULT_POLICY.certValidityMs, hosts }),
          },
          logger: createLogger({ level: 'silent' }),
          intervalMs: 60_000,
          onChange: (m) => server.setTls(m),
        });
        managed.stop();
        server.setTls(managed.initial);

        const secret = await core.readNamespacedSecret({ namespace: 'floatip-system', name: 'floatip-webhook-tls' });
        const caCert = Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString();
        assert.match(caCert, /^-----BEGIN CERTIFICATE-----/);
        const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
        const mutating = await admission.readMutatingWebhookConfiguration({ name: 'floatip' });
        const validating = await admission.readValidatingWebhookConfiguration({ name: 'floatip' });
        const bundles = [...(mutating.webhooks ?? []), ...(validating.webhooks ?? [])].map((w) => w.clientConfig.caBundle);
        assert.equal(bundles.length, 2);
        for (const b of bundles) assert.equal(Buffer.from(b ?? '', 'base64').toString(), `${caCert.trim()}\n`);

        const r = await waitFor('the API server to trust the self-managed certificate', async () => {
          const result = await rejection(
            apps.createNamespacedDeployment({ namespace: 'default', body: deployment('probe', '104.248.100'), dryRun: 'All' }),
          );
          return result.code === 403 ? result : undefined;
        });
        assert.equal(r.message, `admission webhook "validate.floatip.k8s.haim.dev" denied the request: Deployment default/probe: ${BAD_IP_MESSAGE}`);
      } finally {
        kc.close();
        await server.close({ graceMs: 0 });
        // Back to the main server for the tests that follow.
        await registerWebhooks(cp, { url: webhook.url, caBundlePem: tls.caPem });
      }
    },
  );

  test('with the webhook down and failurePolicy Fail, unannotated Pods never reach it', async () => {
    await registerWebhooks(cp, { url: webhook.url, caBundlePem: tls.caPem, failurePolicy: 'Fail' });
    await webhook.close({ graceMs: 0 });
    // An annotated Pod must reach the webhook, so it fails: proof the webhook is really down.
    let attempt = 0;
    const failed = await waitFor('annotated Pods to fail while the webhook is down', async () => {
      // A fresh name each try: an attempt admitted before the Fail policy took effect must not turn into a 409.
      const body = pod(`edge-${++attempt}`, { [KEY]: '104.248.100.102' });
      const r = await rejection(core.createNamespacedPod({ namespace: 'default', body })).catch(() => undefined);
      return r && r.code >= 500 ? r : undefined;
    });
    assert.match(failed.message, /^Internal error occurred: failed calling webhook "mutate\.floatip\.k8s\.haim\.dev"/);
    const plain = await core.createNamespacedPod({ namespace: 'default', body: pod('plain') });
    assert.equal(plain.metadata?.name, 'plain');
    assert.equal(plain.metadata?.labels, undefined);
  });
});
