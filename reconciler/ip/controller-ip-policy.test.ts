// The namespace IP policy in the controller, on the fake clock (as controller-clock.test.ts):
// an address the pod's namespace may not claim is never assigned to it, does not count as a
// competing claim, and is reported once per pod however often the reconciler resyncs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseIpPolicy } from '../../shared/ip-policy.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createController } from './controller.ts';
import type { EventRecord } from '../events.ts';
import { createMemoryPort } from '../../test/support/reserved-ip-port.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import { createReconcilerMetrics } from '../metrics.ts';

const KEYS = floatingIpKeys();
const IP = '104.248.100.100';
const RESYNC = 60_000;
const POLICY = parseIpPolicy(`namespaces:\n  shop: ["${IP}"]\n`);

const node = (name: string, droplet: number): V1Node => ({
  metadata: { name, uid: `uid-${name}` },
  spec: { providerID: `digitalocean://${droplet}` },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

const pod = (name: string, namespace: string, nodeName: string, ageS: number, ips = IP): V1Pod => ({
  metadata: {
    name,
    namespace,
    uid: `uid-${name}`,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) - ageS * 1000),
    labels: { [KEYS.label]: 'true' },
    annotations: { [KEYS.annotation]: ips },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: `ss-${name}`, controller: true }],
  },
  spec: { nodeName, containers: [] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

function setup(pods: V1Pod[]) {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const port = createMemoryPort({ holders: [[IP, null]] });
  const writes = () => port.calls.filter((c) => c.startsWith('assign ') || c.startsWith('unassign '));
  const events: EventRecord[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const controller = createController({
    port,
    world: { listPods: () => pods, listNodes: () => [node('n1', 1001), node('n2', 1002)] },
    events: { record: async (e) => void events.push(e) },
    logger,
    metrics: createReconcilerMetrics(),
    now: clock.now,
    setTimer: clock.setTimer,
    config: { keys: KEYS, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: RESYNC, actionExpiryMs: 60_000, ipPolicy: POLICY },
  });
  const reported = () => events.filter((e) => e.reason === 'FloatingIPNotAllowed').map((e) => `${e.pod.metadata?.namespace}/${e.pod.metadata?.name}: ${e.message}`);
  const warned = () => lines.filter((l) => l['msg'] === 'pod claims reserved IPs the IP policy does not allow in its namespace; they are ignored');
  return { clock, controller, holders: port.holders, get calls() { return writes(); }, events, reported, warned };
}

const MESSAGE = `reserved IP ${IP} may not be claimed in namespace games (floatip IP policy allows here: none)`;

test('controller (IP policy): the older pod of a namespace not allowed never gets the IP, the allowed one does, reported once in 5 resyncs', async () => {
  const h = setup([pod('intruder', 'games', 'n1', 600), pod('web', 'shop', 'n2', 60)]);
  h.controller.start();
  await h.clock.advance(0);
  for (let i = 0; i < 5; i++) await h.clock.advance(RESYNC);
  assert.deepEqual(h.calls, [`assign ${IP} 1002`]);
  assert.equal(h.holders.get(IP), 1002);
  assert.deepEqual(h.reported(), [`games/intruder: ${MESSAGE}`]);
  assert.deepEqual(h.events.filter((e) => e.reason === 'FloatingIPConflict'), [], 'a refused claim competes with nobody');
  assert.deepEqual(
    h.warned().map((l) => [l['namespace'], l['name'], l['ips']]),
    [['games', 'intruder', [IP]]],
  );
  await h.controller.stop();
});

test('controller (IP policy): a pod claiming only refused IPs moves nothing; one refused IP of two leaves the other claimed', async () => {
  const alone = setup([pod('intruder', 'games', 'n1', 600)]);
  alone.controller.start();
  await alone.clock.advance(0);
  await alone.clock.advance(RESYNC);
  assert.deepEqual(alone.calls, []);
  assert.equal(alone.holders.get(IP), null);
  assert.deepEqual(alone.reported(), [`games/intruder: ${MESSAGE}`]);
  await alone.controller.stop();

  const partly = setup([pod('web', 'shop', 'n1', 600, `${IP}, 104.248.100.101`)]);
  partly.controller.start();
  await partly.clock.advance(0);
  await partly.clock.advance(RESYNC);
  assert.deepEqual(partly.calls, [`assign ${IP} 1001`]);
  assert.deepEqual(partly.reported(), [`shop/web: reserved IP 104.248.100.101 may not be claimed in namespace shop (floatip IP policy allows here: ${IP})`]);
  await partly.controller.stop();
});
