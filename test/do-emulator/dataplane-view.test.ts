// The dataplane long poll: a waiter wakes when an action completes (on the emulator's clock),
// not before, and an answer carries the new holder and the action's millisecond times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFakeClock } from '../support/fake-clock.ts';
import { DataplaneFeed } from './dataplane-view.ts';
import { EmulatorState } from './state.ts';
import { defaultWorld } from './world.ts';

test('a long poll wakes when the assign action completes, with the new holder and the action times', async () => {
  const clock = createFakeClock();
  const state = new EmulatorState(clock, 300);
  state.load(defaultWorld());
  const feed = new DataplaneFeed(state);
  state.onActionEnded = () => feed.changed();
  const first = await feed.next(0, 0);
  assert.equal(first.holders['104.248.100.100'], null);

  const action = state.startAction(state.address('104.248.100.100', 4), 'reserved_ip', { type: 'assign', droplet_id: 1002 });
  feed.changed(); // what the server does after the POST
  const started = await feed.next(0, 0);
  assert.equal(started.version, first.version + 1, 'the in-progress action is a change');
  assert.equal(started.holders['104.248.100.100'], null, 'the holder changes only on completion');

  let wokenEarly = false;
  const waiting = feed.next(started.version, 60_000).then((v) => {
    wokenEarly = true;
    return v;
  });
  clock.tick(299);
  await Promise.resolve();
  assert.equal(wokenEarly, false, 'still in progress at 299 ms');
  clock.tick(1);
  const woken = await waiting;
  assert.equal(woken?.holders['104.248.100.100'], 1002);
  const done = woken?.actions.find((a) => a.id === action.id);
  assert.equal(done?.status, 'completed');
  assert.equal((done?.completedAt ?? 0) - (done?.startedAt ?? 0), 300);
});

test('a poll with a stale version answers at once; one that times out returns the same version', async () => {
  const state = new EmulatorState(createFakeClock(), 300);
  state.load(defaultWorld());
  const feed = new DataplaneFeed(state);
  const v = await feed.next(-1, 0);
  assert.equal((await feed.next(v.version, 5)).version, v.version);
  assert.equal(v.firewalls.length, 1);
  assert.deepEqual(v.droplets.map((d) => d.anchorIpv4), ['10.20.0.11', '10.20.0.12', '10.20.0.13']);
});
