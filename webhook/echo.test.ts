import { test } from 'node:test';
import assert from 'node:assert/strict';
import { echo, shorten } from './echo.ts';

test('shorten keeps short text and cuts long text to 64 characters with "..."', () => {
  assert.equal(shorten('Pod'), 'Pod');
  assert.equal(shorten('x'.repeat(64)), 'x'.repeat(64));
  assert.equal(shorten('x'.repeat(65)), `${'x'.repeat(61)}...`);
  assert.equal(shorten('x'.repeat(3 * 1024 * 1024)).length, 64);
  // never half an emoji: the pair at 60-61 is dropped whole
  assert.equal(shorten(`${'x'.repeat(60)}😀${'x'.repeat(10)}`), `${'x'.repeat(60)}...`);
  assert.equal(shorten('abcdefghij', 8), 'abcde...');
});

test('echo quotes strings short and names containers by type only', () => {
  const cases: Array<[unknown, string]> = [
    ['Pod', '"Pod"'],
    ['a\nb', '"a\\nb"'],
    ['k'.repeat(5_000_000), `"${'k'.repeat(61)}..."`],
    [42, '42'],
    [true, 'true'],
    [null, 'null'],
    [undefined, 'nothing'],
    [[1, 2], 'an array'],
    [{ kind: 'x' }, 'an object'],
  ];
  for (const [value, text] of cases) assert.equal(echo(value), text);
  // a nesting that would overflow JSON.stringify is only named
  let nested: unknown = 1;
  for (let i = 0; i < 100_000; i++) nested = [nested];
  assert.equal(echo(nested), 'an array');
});
