// A new leader must not write a Service before its IP controller has judged the claims: the
// first run of the term would otherwise find no won IP, empty externalIPs for a moment, and let
// kube-proxy's conntrack blackhole a UDP flow that arrives in that moment (seen in the packet
// lab's outage benchmark). Fake clock, one Service whose pod claims one IP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import type { HolderEntry } from '../model.ts';
import { createRuntime } from '../runtime/runtime.ts';
import { createExposureMetrics } from './metrics.ts';
import { createServiceController } from './service-controller.ts';
import type { ServiceWriter } from './service-writer.ts';

const KEYS = floatingIpKeys();
const ANCHOR = 'k8s.haim.dev/anchor-ipv4';
const IP = '104.248.100.100';
const WORKLOAD = 'shop\nDeployment/game';

test('a new term leaves a Service as it is until the IP controller has judged its pods\' claims, then writes what they won', async () => {
  const clock = createFakeClock(0);
  const runtime = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  const service: V1Service = {
    metadata: { name: 'game', namespace: 'shop', uid: 'svc-1', resourceVersion: '1' },
    spec: { type: 'LoadBalancer', loadBalancerClass: KEYS.annotation, selector: { app: 'game' }, ports: [{ protocol: 'UDP', port: 7777 }], externalIPs: ['10.20.0.11'] },
  };
  const pod: V1Pod = { metadata: { name: 'game-0', namespace: 'shop', uid: 'pod-1', labels: { app: 'game' }, annotations: { [KEYS.annotation]: IP } } };
  const nodes: V1Node[] = [
    { metadata: { name: 'a', annotations: { [ANCHOR]: '10.20.0.11' } }, spec: { providerID: 'digitalocean://1001' } },
    { metadata: { name: 'b', annotations: { [ANCHOR]: '10.20.0.12' } }, spec: { providerID: 'digitalocean://1002' } },
  ];
  const holders: HolderEntry[] = [{ ip: IP, family: 4, dropletId: 1002 }];
  const judged: { winner?: string } = {}; // not planned yet in this term
  const writes: string[][] = [];
  const writer: ServiceWriter = {
    applyExternalIPs: async (_ns, _name, ips) => void writes.push([...ips]),
    applyIngress: async () => undefined,
    selectsOnlyUnannotatedPods: async () => false,
  };
  createServiceController({
    runtime,
    world: { listServices: () => [service], listPods: () => [pod], listNodes: () => nodes, holders: () => holders },
    claims: { podClaim: () => ({ ips: [IP], workload: WORKLOAD }), winner: () => judged.winner },
    writer,
    events: { record: async () => undefined },
    logger: createLogger({ level: 'silent' }),
    metrics: createExposureMetrics(new Registry()),
    config: { annotation: KEYS.annotation, anchorAnnotation: ANCHOR, loadBalancerClass: KEYS.annotation, resyncIntervalMs: 3_600_000 },
    setTimer: clock.setTimer,
    now: clock.now,
  });
  runtime.start();
  await clock.advance(2_000);
  assert.deepEqual(writes, [], 'nothing written while the claim is not judged (not even an empty externalIPs)');

  judged.winner = WORKLOAD; // the IP controller's first plan of the term
  await clock.advance(1_000);
  assert.deepEqual(writes, [['10.20.0.12']], "then the holder's anchor, in one write");
  await runtime.stop();
});
