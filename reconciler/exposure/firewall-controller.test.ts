// The firewall controller against the real DigitalOcean client and the emulator, with the
// Kubernetes side given as plain arrays (what the informer caches hold) and a manual clock
// for the batch delay and the resync.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { createDoClient } from '../../shared/digitalocean/client.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { startEmulator } from '../../test/do-emulator/server.ts';
import { DEFAULT_CLUSTER_ID } from '../../test/do-emulator/world.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import { learnClusterUuid } from '../cluster-identity.ts';
import type { EventRecord } from '../events.ts';
import { dropletIdOf } from '../snapshot.ts';
import { createRuntime } from '../runtime/runtime.ts';
import { createFirewallController } from './firewall-controller.ts';
import { createExposureMetrics } from './metrics.ts';

const CLASS = 'k8s.haim.dev/floating-ip';
const NAME = `floatip-${DEFAULT_CLUSTER_ID}`;
const DOKS = `k8s-${DEFAULT_CLUSTER_ID}-worker`;
const ALL = { addresses: ['0.0.0.0/0', '::/0'] };

const node = (name: string, droplet: number): V1Node => ({ metadata: { name }, spec: { providerID: `digitalocean://${droplet}` } });
function service(name: string, ports: [string, number][], over: Partial<V1Service['spec']> = {}): V1Service {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASS, selector: { app: name }, ports: ports.map(([protocol, port]) => ({ protocol, port })), ...over },
  };
}

interface StateFirewall {
  id: string;
  name: string;
  tags: string[];
  droplet_ids: number[];
  inbound_rules: unknown[];
  outbound_rules: unknown[];
}

/** Polls real I/O (the emulator) that the manual clock has already set going. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function setup(t: TestContext) {
  const emu = await startEmulator({});
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emu.url}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return res.status === 204 ? undefined : res.json();
  };
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
  const clock = createFakeClock();
  const services: V1Service[] = [];
  const nodes: V1Node[] = [node('pool-a-1', 1001), node('pool-a-2', 1002)];
  const registry = new Registry();
  const metrics = createExposureMetrics(registry);
  let uuid: string | undefined;
  const cloud = createDoClient({ token: 'fw-test', baseUrl: emu.url, retry: { maxAttempts: 1 } });
  const runtime = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  // every Service's pod holds a reserved IP of its own on droplet 1001: each one exposes a won IP
  const keys = floatingIpKeys();
  const ipOf = (i: number) => `104.248.100.${100 + i}`;
  const events: EventRecord[] = [];
  const fw = createFirewallController({
    runtime,
    cloud,
    world: {
      listServices: () => services,
      listNodes: () => nodes,
      listPods: () =>
        services.map((svc, i) => ({
          metadata: { name: `${svc.metadata?.name}-0`, namespace: svc.metadata?.namespace, labels: svc.spec?.selector ?? {}, annotations: { [keys.annotation]: ipOf(i) } },
          spec: { nodeName: 'pool-a-1', containers: [] },
        })),
      holders: () => services.map((_, i) => ({ ip: ipOf(i), family: 4 as const, dropletId: 1001 })),
    },
    logger,
    events: { record: async (e) => void events.push(e) },
    metrics,
    config: { loadBalancerClass: CLASS, resyncIntervalMs: 60_000 },
    // what the IP controller's cloud view answers (learnt once), from the same droplet tags
    clusterUuid: async () => (uuid ??= (await learnClusterUuid(nodes.flatMap((n) => dropletIdOf(n.spec?.providerID) ?? []), async (id) => (await cloud.getDroplet(id)).tags))?.uuid),
    // the IP controller's claim view: each pod's workload (its Service) won its own IP
    claims: {
      podClaim: (pod) => ({ ips: [pod.metadata?.annotations?.[keys.annotation] ?? ''], workload: pod.metadata?.name ?? '' }),
      winner: (ip) => {
        const i = Number(ip.split('.')[3]) - 100;
        return `${services[i]?.metadata?.name}-0`;
      },
    },
  });
  const term = new AbortController();
  const start = () => runtime.start({ signal: term.signal, valid: () => !term.signal.aborted });
  t.after(async () => {
    term.abort();
    await runtime.stop();
    await emu.close();
  });
  const firewalls = async () => ((await admin('GET', '/state')) as { firewalls: StateFirewall[] }).firewalls;
  const ours = async () => (await firewalls()).find((f) => f.name === NAME);
  const requests = async () => ((await admin('GET', '/requests')) as { method: string; path: string; status: number }[]).map((r) => `${r.method} ${r.path} ${r.status}`);
  const clearRequests = () => admin('DELETE', '/requests');
  return { emu, admin, logs, clock, services, nodes, fw, runtime, term, start, firewalls, ours, requests, clearRequests, registry, events };
}

test('creates floatip-<cluster> for the Services ports, targeting the worker tag; the DOKS firewall stays byte for byte', async (t) => {
  const h = await setup(t);
  const doksBefore = JSON.stringify((await h.firewalls()).find((f) => f.name === DOKS));
  h.services.push(service('game', [['UDP', 7777], ['TCP', 8080]]));
  h.start();
  await h.fw.syncNow();

  const fw = await h.ours();
  assert.deepEqual(
    { tags: fw?.tags, droplets: fw?.droplet_ids, inbound: fw?.inbound_rules, outbound: fw?.outbound_rules },
    {
      tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
      droplets: [],
      inbound: [
        { protocol: 'tcp', ports: '8080', sources: ALL },
        { protocol: 'udp', ports: '7777', sources: ALL },
      ],
      outbound: [],
    },
  );
  assert.equal(JSON.stringify((await h.firewalls()).find((f) => f.name === DOKS)), doksBefore);
  assert.deepEqual(await h.requests(), ['GET /v2/droplets/1001 200', 'GET /v2/firewalls 200', 'POST /v2/firewalls 202']);
  const created = h.logs.find((l) => l['msg'] === 'DigitalOcean firewall created');
  assert.deepEqual([created?.['firewall'], created?.['rules']], [NAME, 'tcp/8080, udp/7777']);

  // compare, then write only on a difference: a second run only lists
  await h.clearRequests();
  await h.fw.syncNow();
  assert.deepEqual(await h.requests(), ['GET /v2/firewalls 200']);
});

test('a port added: one PUT within the batch delay; several events are one run', async (t) => {
  const h = await setup(t);
  h.services.push(service('game', [['UDP', 7777]]));
  h.start();
  await h.fw.syncNow();
  await h.clearRequests();

  const updated = service('game', [['UDP', 7777], ['TCP', 8080]]);
  h.services[0] = updated;
  h.fw.serviceChanged(updated);
  await h.clock.advance(100);
  h.fw.serviceChanged(updated);
  await h.clock.advance(149);
  assert.deepEqual(await h.requests(), [], 'not before the batch delay');
  await h.clock.advance(1);
  await until('the PUT', async () => (await h.requests()).some((r) => r.startsWith('PUT')));
  const writes = (await h.requests()).filter((r) => !r.startsWith('GET'));
  assert.deepEqual(writes, [`PUT /v2/firewalls/${(await h.ours())?.id} 200`]);
  assert.deepEqual((await h.ours())?.inbound_rules, [
    { protocol: 'tcp', ports: '8080', sources: ALL },
    { protocol: 'udp', ports: '7777', sources: ALL },
  ]);
  const line = h.logs.find((l) => l['msg'] === 'DigitalOcean firewall updated');
  assert.equal(line?.['reason'], 'tcp/8080 added');
});

test('deleted by hand: the resync recreates it', async (t) => {
  const h = await setup(t);
  h.services.push(service('game', [['TCP', 8080]], { loadBalancerSourceRanges: ['203.0.113.0/24'] }));
  h.start();
  await h.fw.syncNow();
  const first = await h.ours();
  assert.deepEqual(first?.inbound_rules, [{ protocol: 'tcp', ports: '8080', sources: { addresses: ['203.0.113.0/24'] } }]);
  await fetch(`${h.emu.url}/v2/firewalls/${first?.id}`, { method: 'DELETE', headers: { authorization: 'Bearer someone' } });
  assert.equal(await h.ours(), undefined);

  await h.clock.advance(60_000);
  await h.clock.advance(250); // the resync marks it; the batch delay follows
  const again = await until('the firewall recreated', () => h.ours());
  assert.notEqual(again?.id, first?.id);
  assert.deepEqual(again?.inbound_rules, first?.inbound_rules);
  assert.equal(h.logs.find((l) => l['msg'] === 'DigitalOcean firewall created' && l['id'] === again?.id)?.['reason'], 'no firewall of that name exists (new, or deleted by hand)');
});

test('a Service gone or of another class: its rules go, then the firewall; later resyncs do not even list', async (t) => {
  const h = await setup(t);
  const game = service('game', [['UDP', 7777]]);
  const web = service('web', [['TCP', 443]]);
  h.services.push(game, web);
  h.start();
  await h.fw.syncNow();

  // web changes class (type ClusterIP): its rule goes
  const plain: V1Service = { ...web, spec: { ...web.spec, type: 'ClusterIP', loadBalancerClass: undefined } };
  h.services[1] = plain;
  h.fw.serviceChanged(plain, web);
  await h.fw.syncNow();
  assert.deepEqual((await h.ours())?.inbound_rules, [{ protocol: 'udp', ports: '7777', sources: ALL }]);

  // game deleted: no floatip Service left, the firewall goes
  h.services.splice(0, 1);
  h.fw.serviceChanged(undefined, game);
  await h.fw.syncNow();
  assert.equal(await h.ours(), undefined);
  assert.ok((await h.firewalls()).some((f) => f.name === DOKS), 'the DOKS firewall is left alone');
  assert.equal(h.logs.find((l) => l['msg'] === 'DigitalOcean firewall deleted')?.['reason'], 'no Service of floatip class is left');

  await h.clearRequests();
  await h.clock.advance(60_000);
  await h.fw.syncNow();
  assert.deepEqual(await h.requests(), []);
});

test('a token without firewall scopes: a warning naming the scopes and the opt-out, retried with backoff', async (t) => {
  const h = await setup(t);
  await h.admin('POST', '/faults', { method: 'POST', path: '^/v2/firewalls$', status: 403, body: { id: 'forbidden', message: 'You are not authorized to perform this operation' }, count: 1 });
  h.services.push(service('game', [['UDP', 7777]]));
  h.start();
  await assert.rejects(h.fw.syncNow(), /403\). It needs the firewall:create and droplet:read scopes/);
  const warning = h.logs.find((l) => l['level'] === 'warn');
  assert.equal(warning?.['msg'], 'the DigitalOcean token may not manage firewalls: give it the firewall:* and droplet:read scopes, or run with --no-firewall');
  assert.equal(warning?.['retryInMs'], 500);
  assert.match(await h.registry.metrics(), /floatip_exposure_errors_total\{controller="firewall"\} 1/);
  await h.clock.advance(500);
  await h.fw.syncNow();
  assert.ok(await h.ours(), 'created on the retry');
});

test('stop: no run after the term ends', async (t) => {
  const h = await setup(t);
  h.services.push(service('game', [['UDP', 7777]]));
  h.start();
  await h.fw.syncNow();
  h.term.abort();
  await h.runtime.stop();
  await h.clearRequests();
  h.fw.serviceChanged(service('game', [['TCP', 1]]));
  await h.clock.advance(120_000);
  assert.deepEqual(await h.requests(), []);
  assert.equal(h.clock.pending(), 0);
});

test('a Service with 60 ports: refused with one Warning Event, the others still reach DigitalOcean (no 422 loop)', async (t) => {
  const h = await setup(t);
  h.services.push(service('big', Array.from({ length: 60 }, (_, i): [string, number] => ['TCP', 20_000 + 2 * i])));
  h.services.push(service('shop', [['TCP', 9443]]));
  h.start();
  await h.fw.syncNow();
  assert.deepEqual((await h.ours())?.inbound_rules, [{ protocol: 'tcp', ports: '9443', sources: ALL }]);
  await h.clock.advance(60_000); // resync: same refusal, no second Event
  await h.fw.syncNow();
  const warnings = h.events.filter((e) => e.type === 'Warning').map((e) => [e.pod.metadata?.name, e.reason]);
  assert.deepEqual(warnings, [['big', 'FloatingIPFirewallFull']]);
  assert.equal((await h.requests()).filter((r) => r.endsWith(' 422')).length, 0, 'never sent what DigitalOcean refuses');
});
