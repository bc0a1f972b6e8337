// The priority inversion of issue 14, on a fake clock: a move marks every Service dirty, and
// the next failover's flush of its own Service must not wait behind them. The Service
// controller and the actuator run on one runtime; each Service write takes 100 ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import { createMemoryPort } from '../../test/support/reserved-ip-port.ts';
import { createActuator } from '../actuator.ts';
import { createReconcilerMetrics } from '../metrics.ts';
import type { HolderEntry } from '../model.ts';
import { createRuntime } from '../runtime/runtime.ts';
import { createExposureMetrics } from './metrics.ts';
import { createServiceController } from './service-controller.ts';
import type { ServiceWriter } from './service-writer.ts';

const KEYS = floatingIpKeys();
const CLASS = KEYS.annotation;
const ANCHOR = 'k8s.haim.dev/anchor-ipv4';
const WRITE_MS = 100;
const N = 20;
const pad = (i: number) => String(i).padStart(2, '0');
const ipOf = (i: number) => `104.248.100.${i}`;

const node = (name: string, droplet: number, anchor: string): V1Node => ({ metadata: { name, annotations: { [ANCHOR]: anchor } }, spec: { providerID: `digitalocean://${droplet}` } });
const service = (i: number): V1Service => ({
  metadata: { name: `svc-${pad(i)}`, namespace: 'shop', uid: `svc-${i}`, resourceVersion: '1' },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASS, selector: { app: `g${pad(i)}` }, ports: [{ protocol: 'UDP', port: 7000 + i }] },
});
const pod = (i: number): V1Pod => ({ metadata: { name: `g${pad(i)}-0`, namespace: 'shop', uid: `pod-${i}`, labels: { app: `g${pad(i)}` }, annotations: { [KEYS.annotation]: ipOf(i) } } });

test('20 Services dirty and a failover: its Service is written before the 19 waiting, and the assign waits for that one write only', async () => {
  const clock = createFakeClock(0);
  const runtime = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  const services = Array.from({ length: N }, (_, i) => service(i + 1));
  const pods = Array.from({ length: N }, (_, i) => pod(i + 1));
  // IP i sits on droplet 1000+i; droplets 3000+i are where a drain moves them; 2000 takes over IP 20
  const nodes = [
    ...Array.from({ length: N }, (_, i) => node(`a${i + 1}`, 1001 + i, `10.20.1.${i + 1}`)),
    ...Array.from({ length: N }, (_, i) => node(`b${i + 1}`, 3001 + i, `10.20.3.${i + 1}`)),
    node('spare', 2000, '10.20.2.1'),
  ];
  let holders: HolderEntry[] = Array.from({ length: N }, (_, i) => ({ ip: ipOf(i + 1), family: 4, dropletId: 1001 + i }));
  const writes: string[] = [];
  const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const writer: ServiceWriter = {
    async applyExternalIPs(_ns, name, ips) {
      writes.push(`${name}@${clock.now() - t0} ${ips.join(',')}`);
      await wait(WRITE_MS);
    },
    applyIngress: async () => undefined,
    selectsOnlyUnannotatedPods: async () => false,
  };
  // the IP controller's claim view: each workload won its own IP
  const workloadOf = (p: V1Pod) => `shop\nStatefulSet/${p.metadata?.labels?.['app']}`;
  const controller = createServiceController({
    runtime,
    world: { listServices: () => services, listPods: () => pods, listNodes: () => nodes, holders: () => holders },
    claims: {
      podClaim: (p) => ({ ips: [p.metadata?.annotations?.[KEYS.annotation] ?? ''], workload: workloadOf(p) }),
      winner: (ip) => `shop\nStatefulSet/g${pad(Number(ip.split('.')[3]))}`,
    },
    writer,
    events: { record: async () => undefined },
    logger: createLogger({ level: 'silent' }),
    metrics: createExposureMetrics(new Registry()),
    config: { annotation: KEYS.annotation, anchorAnnotation: ANCHOR, loadBalancerClass: CLASS, resyncIntervalMs: 3_600_000 },
    setTimer: clock.setTimer,
    now: clock.now,
  });
  const port = createMemoryPort({ holders: holders.map((h) => [h.ip, h.dropletId] as const), now: clock.now });
  const actuator = createActuator({
    port,
    events: { record: async () => undefined },
    logger: createLogger({ level: 'silent' }),
    metrics: createReconcilerMetrics(),
    dryRun: false,
    actionExpiryMs: 60_000,
    now: clock.now,
    pod: () => undefined,
    exposure: controller,
  });
  let t0 = 0;
  runtime.start();
  await clock.advance(N * WRITE_MS + 1000);
  assert.equal(writes.length, N, 'every Service exposed once at the start of the term');

  // A drain moved every IP: all 20 Services are dirty (the first one starts writing at once).
  writes.length = 0;
  t0 = clock.now();
  holders = holders.map((h, i) => ({ ...h, dropletId: 3001 + i }));
  controller.holdersChanged();
  // ...and the node of IP 20 is deleted: the failover's assign asks for its Service first.
  const moved = actuator.execute(
    { type: 'assign', ip: ipOf(N), reason: 'holder-node-deleted', detail: 'node b20 (droplet 3020) was deleted', dropletId: 2000, node: 'spare' },
    undefined,
    new AbortController().signal,
  );
  await clock.advance(WRITE_MS);
  assert.deepEqual(await moved, [{ kind: 'moved', dropletId: 2000, family: 4 }]);
  assert.deepEqual(
    [port.calls.at(-1), (port.times.at(-1) ?? 0) - t0],
    [`assign ${ipOf(N)} 2000`, WRITE_MS],
    'the assign went out after one Service write (100 ms), not after twenty (2 s)',
  );
  assert.deepEqual(writes, ['svc-01@0 10.20.3.1', 'svc-20@0 10.20.2.1,10.20.3.20', 'svc-02@100 10.20.3.2'], 'svc-20 started beside the write already in flight, with the target anchor; the other 18 still wait');
  await clock.advance(N * WRITE_MS);
  assert.deepEqual(
    writes.map((w) => w.split(' ')[0]),
    ['svc-01@0', 'svc-20@0', ...Array.from({ length: N - 2 }, (_, i) => `svc-${pad(i + 2)}@${(i + 1) * WRITE_MS}`)],
    'then the rest in order; the flush took svc-20 out of the queue (written once)',
  );
  await runtime.stop();
});
