import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guarded, step } from './detector.ts';
import type { DetectorEvent, Effect, LivenessMap } from './detector.ts';

const CONFIG = { failuresToSuspect: 2 };
const H = 1001; // the holder
const fail = (droplet: number, sentMs: number): DetectorEvent => ({ kind: 'direct', droplet, ok: false, sentMs });
const ok = (droplet: number, sentMs: number): DetectorEvent => ({ kind: 'direct', droplet, ok: true, sentMs });
const asked = (droplet: number, round: number, n: number): DetectorEvent => ({ kind: 'asked', droplet, round, asked: n });
const says = (droplet: number, round: number, answer: 'reached' | 'unreached' | 'no-answer'): DetectorEvent => ({ kind: 'indirect', droplet, round, answer });

/** Runs the events after the holder and `others` answered once; returns every effect and the last map. */
function run(events: readonly DetectorEvent[], others: readonly number[] = [1002, 1003], fresh = false, quiet: readonly number[] = []): { effects: Effect[]; map: LivenessMap } {
  let map: LivenessMap = new Map();
  for (const o of fresh ? others : [H, ...others]) map = step(map, ok(o, 0), CONFIG).map;
  const effects: Effect[] = [];
  const config = { ...CONFIG, quiet: new Set(quiet) };
  for (const e of events) {
    const r = step(map, e, config);
    map = r.map;
    effects.push(...r.effects);
  }
  return { effects, map };
}

interface Case {
  readonly name: string;
  readonly events: readonly DetectorEvent[];
  readonly others?: readonly number[];
  /** the holder was never reached in this term (a new leader's first probes) */
  readonly fresh?: boolean;
  /** droplets whose node Lease went quiet */
  readonly quiet?: readonly number[];
  readonly effects: readonly Effect[];
  readonly phase: 'ok' | 'suspect' | 'dead' | undefined;
}

// Probes every 250 ms from t=0; the holder dies at t=600 (probes sent at 750 and 1000 fail).
const CASES: readonly Case[] = [
  {
    name: 'one failure is not a suspicion',
    events: [ok(H, 500), fail(H, 750)],
    effects: [],
    phase: 'ok',
  },
  {
    name: 'two failures: suspect, and round 1 of indirect probes goes out',
    events: [fail(H, 750), fail(H, 1000)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
    ],
    phase: 'suspect',
  },
  {
    name: 'no prober reaches it and two answered: dead since the first failed probe',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 3), says(H, 1, 'unreached'), says(H, 1, 'no-answer'), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 750, probers: 2 },
    ],
    phase: 'dead',
  },
  {
    name: 'answers before the count of probers is known wait for it',
    events: [fail(H, 750), fail(H, 1000), says(H, 1, 'unreached'), asked(H, 1, 1)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 750, probers: 1 },
    ],
    phase: 'dead',
  },
  {
    name: 'one prober reaches it: cleared (only the leader is cut off from it)',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 3), says(H, 1, 'unreached'), says(H, 1, 'reached'), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'cleared', droplet: H, by: 'indirect' },
    ],
    phase: 'ok',
  },
  {
    name: 'no prober answers: inconclusive, the next failure asks again',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 2), says(H, 1, 'no-answer'), says(H, 1, 'no-answer'), fail(H, 1250)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'inconclusive', droplet: H, why: 'too-few-answers' },
      { kind: 'ask', droplet: H, round: 2 },
    ],
    phase: 'suspect',
  },
  {
    name: 'no prober available at all: inconclusive',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 0)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'inconclusive', droplet: H, why: 'too-few-answers' },
    ],
    phase: 'suspect',
  },
  {
    name: 'a direct answer during the round clears it; the round\'s late answers are dropped',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 2), ok(H, 1250), says(H, 1, 'unreached'), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'cleared', droplet: H, by: 'direct' },
    ],
    phase: 'ok',
  },
  {
    name: 'failures during a round start no second round',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 1), fail(H, 1250), fail(H, 1500), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 750, probers: 1 },
    ],
    phase: 'dead',
  },
  {
    name: 'the guard: the leader fails to reach most probed droplets, so nothing is dead',
    events: [fail(1002, 700), fail(H, 750), fail(1003, 800), fail(H, 1000), asked(H, 1, 1), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'inconclusive', droplet: H, why: 'guarded' },
    ],
    phase: 'suspect',
  },
  {
    name: 'a dead droplet answering again is revived',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 1), says(H, 1, 'unreached'), fail(H, 1250), ok(H, 9000)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 750, probers: 1 },
      { kind: 'revived', droplet: H },
    ],
    phase: 'ok',
  },
  {
    name: 'a success between failures restarts the count (30 % loss is not two in a row here)',
    events: [fail(H, 250), ok(H, 500), fail(H, 750), ok(H, 1000), fail(H, 1250)],
    effects: [],
    phase: 'ok',
  },
  {
    name: 'a new leader: an inherited holder never reached this term is asked about at its first failure',
    fresh: true,
    events: [fail(H, 250), asked(H, 1, 2), says(H, 1, 'unreached'), says(H, 1, 'unreached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 250, probers: 2 },
    ],
    phase: 'dead',
  },
  {
    name: 'a new leader: the agents still decide — one reaching it clears the first failure',
    fresh: true,
    events: [fail(H, 250), asked(H, 1, 2), says(H, 1, 'reached')],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'cleared', droplet: H, by: 'indirect' },
    ],
    phase: 'ok',
  },
  {
    name: 'a new leader: agents asked together with the first probe; a failed first probe after their "unreached" is a verdict at once',
    fresh: true,
    events: [{ kind: 'inherit', droplet: H }, asked(H, 1, 3), says(H, 1, 'unreached'), says(H, 1, 'no-answer'), says(H, 1, 'unreached'), fail(H, 0)],
    effects: [
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'suspected', droplet: H },
      { kind: 'dead', droplet: H, sinceMs: 0, probers: 2 },
    ],
    phase: 'dead',
  },
  {
    name: 'one "unreached" of three probers asked is not enough (one starved or confused agent kills nothing); the next failure asks again',
    events: [fail(H, 750), fail(H, 1000), asked(H, 1, 3), says(H, 1, 'unreached'), says(H, 1, 'no-answer'), says(H, 1, 'no-answer'), fail(H, 1250)],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'inconclusive', droplet: H, why: 'too-few-answers' },
      { kind: 'ask', droplet: H, round: 2 },
    ],
    phase: 'suspect',
  },
  {
    name: 'the guard does not count droplets whose node Lease went quiet (earlier deaths)',
    events: [fail(1002, 700), fail(H, 750), fail(1003, 800), fail(H, 1000), asked(H, 1, 1), says(H, 1, 'unreached')],
    quiet: [1002, 1003],
    effects: [
      { kind: 'suspected', droplet: H },
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'dead', droplet: H, sinceMs: 750, probers: 1 },
    ],
    phase: 'dead',
  },
  {
    name: 'a new leader: the first probe fails before the agents answer; their answer then decides',
    fresh: true,
    events: [{ kind: 'inherit', droplet: H }, fail(H, 0), asked(H, 1, 1), says(H, 1, 'unreached')],
    effects: [
      { kind: 'ask', droplet: H, round: 1 },
      { kind: 'suspected', droplet: H },
      { kind: 'dead', droplet: H, sinceMs: 0, probers: 1 },
    ],
    phase: 'dead',
  },
  {
    name: 'a new leader: the agents\' "unreached" alone decides nothing while the holder answers the leader',
    fresh: true,
    events: [{ kind: 'inherit', droplet: H }, asked(H, 1, 1), says(H, 1, 'unreached'), ok(H, 0), fail(H, 250)],
    effects: [{ kind: 'ask', droplet: H, round: 1 }],
    phase: 'ok',
  },
  {
    name: 'a forgotten droplet is no longer judged',
    events: [fail(H, 750), { kind: 'forget', droplet: H }],
    effects: [],
    phase: undefined,
  },
];

for (const c of CASES) {
  test(`detector: ${c.name}`, () => {
    const { effects, map } = run(c.events, c.others, c.fresh, c.quiet);
    assert.deepEqual(effects, c.effects);
    assert.equal(map.get(H)?.phase, c.phase);
  });
}

test('guard: more than half of the probed droplets failing, dead ones not counted', () => {
  const d = (failures: number, phase: 'ok' | 'suspect' | 'dead' = 'ok') => ({ phase, failures, rounds: 0 });
  assert.equal(guarded(new Map([[1, d(1)], [2, d(0)]])), false, '1 of 2');
  assert.equal(guarded(new Map([[1, d(1)], [2, d(1)], [3, d(0)]])), true, '2 of 3');
  assert.equal(guarded(new Map([[1, d(3, 'dead')], [2, d(1)], [3, d(0)]])), false, '1 of 2 alive ones');
  assert.equal(guarded(new Map([[1, d(2)]])), false, 'one probed droplet never guards on its own (the probers decide)');
});
