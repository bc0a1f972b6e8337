import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerOf } from './sweeper.ts';

test('ownerOf: only names the lab makes have an owner; anything else is never swept', () => {
  const cases: [string, number | undefined][] = [
    ['floatip-lab-4242-1-edge', 4242],
    ['floatip-lab-4242-3-d1001', 4242],
    ['floatip-lab-17-2-p12', 17],
    ['floatip-lab-probe-4242', undefined],
    ['floatip-lab-4242-edge', undefined],
    ['cni-1234', undefined],
    ['xfloatip-lab-4242-1-edge', undefined],
    ['floatip-lab-4242-1-Edge', undefined],
  ];
  for (const [name, owner] of cases) assert.equal(ownerOf(name), owner, name);
});
