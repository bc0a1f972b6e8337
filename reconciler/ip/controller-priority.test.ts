// The controller on a fake clock, with DigitalOcean as the bottleneck: every assign takes a
// second (a rate budget spent), 30 first placements are queued, and the node holding another
// IP fails. The failover must take the next free worker, not wait behind the placements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createController } from './controller.ts';
import { createMemoryPort } from '../../test/support/reserved-ip-port.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import { createReconcilerMetrics } from '../metrics.ts';

const KEYS = floatingIpKeys();
const HELD = '104.248.10.200';
const ipOf = (i: number) => `104.248.10.${i + 1}`;
const ASSIGN_MS = 1_000;

const node = (i: number, ready = true): V1Node => ({
  metadata: { name: `n${i}`, uid: `uid-n${i}` },
  spec: { providerID: `digitalocean://${1000 + i}` },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

const pod = (name: string, nodeIndex: number, ip: string, ageS: number): V1Pod => ({
  metadata: {
    name,
    namespace: 'games',
    uid: `uid-${name}`,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) - ageS * 1000),
    labels: { [KEYS.label]: 'true' },
    annotations: { [KEYS.annotation]: ip },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: ip, uid: `ss-${ip}`, controller: true }],
  },
  spec: { nodeName: `n${nodeIndex}`, containers: [] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

test('controller (fake clock): a failover runs on the next free worker, before first placements queued earlier', async () => {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const t0 = clock.now();
  const port = createMemoryPort({ holders: [[HELD, 1000], ...Array.from({ length: 30 }, (_, i) => [ipOf(i), null] as const)] });
  const calls: string[] = [];
  port.impl.assign = async (address, droplet) => {
    calls.push(`${address === HELD ? 'failover' : 'first'}@${clock.now() - t0}`);
    await new Promise<void>((resolve) => clock.setTimer(resolve, ASSIGN_MS));
    return port.moveTo(address, droplet);
  };
  port.impl.unassign = async () => {
    throw new Error('not expected');
  };
  // the held IP on n0 (its pod can move to n40); one pod per first placement on n1…n30
  const nodes = [...Array.from({ length: 31 }, (_, i) => node(i)), node(40)];
  const pods = [pod('held-a', 0, HELD, 600), pod('held-b', 40, HELD, 300), ...Array.from({ length: 30 }, (_, i) => pod(`new-${i}`, i + 1, ipOf(i), 60))];
  const controller = createController({
    port,
    world: { listPods: () => pods, listNodes: () => nodes },
    events: { record: async () => undefined },
    logger: createLogger({ level: 'silent' }),
    metrics: createReconcilerMetrics(),
    now: clock.now,
    setTimer: clock.setTimer,
    concurrency: 4,
    config: { keys: KEYS, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: 3_600_000, actionExpiryMs: 60_000 },
  });
  controller.start();
  await clock.advance(1_500);
  assert.deepEqual(calls, ['first@0', 'first@0', 'first@0', 'first@0', 'first@1000', 'first@1000', 'first@1000', 'first@1000'], 'held IP sticky; 22 placements still waiting');
  const before = nodes[0] as V1Node;
  nodes[0] = node(0, false);
  controller.nodeChanged(nodes[0], before);
  await clock.advance(500);
  assert.deepEqual(calls.slice(8), ['failover@2000', 'first@2000', 'first@2000', 'first@2000']);
  await clock.advance(10_000);
  assert.equal(port.holders.get(HELD), 1040);
  assert.equal([...port.holders.values()].filter((h) => h === null).length, 0, 'every first placement done afterwards');
  await controller.stop();
});
