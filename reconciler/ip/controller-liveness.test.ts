// The IP controller and liveness (fake clock, in-memory port): what it names for probing, and
// a dead set that moves the IPs of a dead holder at once, reason holder-unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import { createMemoryPort } from '../../test/support/reserved-ip-port.ts';
import { createReconcilerMetrics } from '../metrics.ts';
import { createController } from './controller.ts';

const KEYS = floatingIpKeys();
const IP = '104.248.100.100';
const node = (name: string, droplet: number): V1Node => ({ metadata: { name, uid: `uid-${name}` }, spec: { providerID: `digitalocean://${droplet}` }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
const pod = (name: string, nodeName: string, ageS: number): V1Pod => ({
  metadata: {
    name,
    namespace: 'shop',
    uid: `uid-${name}`,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) - ageS * 1000),
    labels: { [KEYS.label]: 'true' },
    annotations: { [KEYS.annotation]: IP },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'ss-web', controller: true }],
  },
  spec: { nodeName, containers: [] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

test('controller (fake clock): liveness probes the holder and its next target; a dead holder loses the IP at once to a live droplet', async () => {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const port = createMemoryPort({ holders: [[IP, null]], now: clock.now });
  let listed = 0;
  const metrics = createReconcilerMetrics();
  const controller = createController({
    port,
    world: { listPods: () => [pod('a', 'n1', 300), pod('b', 'n2', 200), pod('c', 'n3', 100)], listNodes: () => [node('n1', 1001), node('n2', 1002), node('n3', 1003)] },
    events: { record: async () => undefined },
    logger: createLogger({ level: 'silent' }),
    metrics,
    now: clock.now,
    setTimer: clock.setTimer,
    onHoldersListed: () => void (listed += 1),
    config: { keys: KEYS, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: 60_000, actionExpiryMs: 60_000 },
  });
  controller.start();
  await clock.advance(0);
  assert.equal(port.holders.get(IP), 1001, 'the oldest pod\'s droplet');
  assert.equal(listed, 1, 'the term\'s first list is announced (a new leader probes at once)');
  assert.deepEqual([...controller.livenessTargets()], [1001, 1002], 'the holder and the next target, not every node');

  const t = clock.now();
  controller.livenessChanged(new Map([[1001, t - 900], [1002, t - 800]]));
  await clock.advance(0);
  assert.equal(port.holders.get(IP), 1003, 'not 1002: a droplet confirmed dead is never a target');
  const assigns = port.calls.filter((c) => c.startsWith('assign '));
  assert.equal(assigns.length, 2, 'one first placement, one failover, no hesitation');
  const moves = (await metrics.moves.get()).values.map((v) => v.labels.reason);
  assert.deepEqual(moves, ['unassigned', 'holder-unreachable']);
  assert.deepEqual([...controller.livenessTargets()], [1003], 'the next target may not be a dead droplet');
  await controller.stop();
});
