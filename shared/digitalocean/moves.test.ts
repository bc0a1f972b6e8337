// The decisions after a write whose answer was lost, as tables: what the re-read IP says, and
// which running action is taken for ours.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterLostAnswer, runningActionOfKind } from './moves.ts';

test('afterLostAnswer: applied, an action running, or not applied (safe to send again)', () => {
  const table: [number | null, boolean, number | null, ReturnType<typeof afterLostAnswer>][] = [
    // holder, locked, target → verdict
    [1001, false, 1001, 'applied'],
    [null, false, null, 'applied'],
    [null, false, 1001, 'not-applied'],
    [1002, false, 1001, 'not-applied'],
    [1001, false, null, 'not-applied'],
    [1002, true, 1001, 'action-running'],
    [1001, true, 1001, 'action-running'],
    [1001, true, null, 'action-running'],
    [null, true, null, 'action-running'],
  ];
  for (const [dropletId, locked, target, verdict] of table) {
    assert.equal(afterLostAnswer({ dropletId, locked }, target), verdict, JSON.stringify({ dropletId, locked, target }));
  }
});

test('runningActionOfKind: the newest in-progress action of the kind sent; none when only others run', () => {
  const actions = [
    { id: 5, status: 'completed', type: 'assign_ip' },
    { id: 9, status: 'in-progress', type: 'assign_ip' },
    { id: 7, status: 'in-progress', type: 'assign_ip' },
    { id: 8, status: 'in-progress', type: 'unassign_ip' },
    { status: 'in-progress', type: 'assign_ip' },
  ];
  assert.equal(runningActionOfKind(actions, 1001), 9);
  assert.equal(runningActionOfKind(actions, null), 8);
  assert.equal(runningActionOfKind(actions.filter((a) => a.type === 'unassign_ip'), 1001), undefined);
  assert.equal(runningActionOfKind([{ id: 3, status: 'errored', type: 'unassign_ip' }], null), undefined);
  assert.equal(runningActionOfKind([], 1001), undefined);
});
