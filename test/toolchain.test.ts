// The project installs its own Node (npm's `node@24` devDependency). If npm skipped that
// package's install script it silently falls back to the machine's Node; catch that here.
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('the suite runs under Node 24', () => {
  const major = Number(process.versions.node.split('.')[0]);
  assert.equal(major, 24, `expected Node 24, got ${process.version}`);
});
