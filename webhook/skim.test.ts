// The skim against JSON.parse as the oracle: the same verdict (valid or not) on every input,
// the same value when everything is kept, and the documented pruning when it is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skimJson } from './skim.ts';
import type { SkimShape } from './skim.ts';

function oracle(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const valid = [
  '{}', '[]', '0', '-0', '1.5e-7', '-12.25E+3', '"x"', 'true', 'false', 'null', ' \t\r\n{ "a" : [ 1 , 2 ] } \n',
  '{"a":{"b":[1,{"c":"d"}],"e":null},"f":[[],{}],"g":-0.0}',
  '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"', '"é😀"', '{"dup":1,"dup":2}', '{"__proto__":{"x":1}}',
  '[1e400, -1e-400, 123456789012345678901234567890]',
];
const invalid = [
  '', ' ', '{', '[', '{"a"', '{"a":', '{"a":1', '{"a":1,}', '[1,]', '[,1]', '{,}', '{"a" 1}', '{a:1}', "{'a':1}",
  '01', '-', '1.', '.5', '1e', '1e+', '+1', '0x10', 'NaN', 'Infinity', 'tru', 'nul', 'True', '"abc', '"\\x"', '"\\u12"',
  '"\\u12G4"', '"a\nb"', '"a\tb"', '[1 2]', '{}x', '{} {}', '"\\', '[1]]', '{"a":1}}', '\ufeff{}', '[-]', '{"a":-}',
];

for (const text of [...valid, ...invalid]) {
  test(`skim agrees with JSON.parse on ${JSON.stringify(text)}`, () => {
    const expected = oracle(text);
    const got = skimJson(Buffer.from(text), 'keep');
    assert.equal(got.ok, expected.ok, got.ok ? 'skim accepted it' : got.message);
    if (got.ok && expected.ok) assert.deepEqual(got.value, expected.value);
    if (!got.ok) assert.match(got.message, /^request body is not valid JSON: (it is empty|it ends .+|unexpected .+ at offset \d+.*)$/);
  });
}

test('exact messages for the common mistakes', () => {
  const cases: Array<[string, string]> = [
    ['', 'it is empty'],
    ['{"kind":', 'it ends before the JSON value does'],
    ['{"a":1,}', 'unexpected "}" at offset 7 (expected a key in quotes)'],
    ['[1 2]', 'unexpected "2" at offset 3 (expected "," or "]")'],
    ['{}x', 'unexpected "x" at offset 2 (after the end of the JSON value)'],
    ['"a\nb"', 'unexpected byte 0x0a at offset 2 (a control character inside a string)'],
    ['"\\q"', 'unexpected "q" at offset 2 (after a backslash)'],
  ];
  for (const [text, message] of cases) {
    assert.deepEqual(skimJson(Buffer.from(text), 'keep'), { ok: false, message: `request body is not valid JSON: ${message}` });
  }
});

test('seeded mutations of real reviews: skim and JSON.parse agree on all 3000', () => {
  const base = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u"1\\', kind: { kind: 'Pod' }, object: { metadata: { annotations: { 'k8s.haim.dev/floating-ip': '1.2.3.4, é' } }, n: [1.5, -2e3, true, null] } },
  });
  const alphabet = '{}[]":,\\ 0123456789.-+eEtrufalsn\n\u0001é';
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 3000; round++) {
    const chars = [...base];
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(chars.length);
      const op = random(3);
      const c = alphabet[random(alphabet.length)] ?? ' ';
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, c);
      else chars[at] = c;
    }
    const text = chars.join('');
    const expected = oracle(text);
    const got = skimJson(Buffer.from(text), 'keep');
    assert.equal(got.ok, expected.ok, `${JSON.stringify(text)}: ${got.ok ? 'accepted' : got.message}`);
    if (got.ok && expected.ok) assert.deepEqual(got.value, expected.value, text);
  }
});

const shape: SkimShape = { a: 'keep', m: { x: 'keep', 'k/1': 'keep' }, list: { y: 'keep' } };

// [JSON text, pruned value]
const pruning: ReadonlyArray<readonly [string, unknown]> = [
  ['{"a":1,"b":2}', { a: 1 }],
  ['{"b":{"deep":[1,2,3]}}', {}],
  ['{"m":{"x":"v","z":"w","k/1":[1,{"q":2}]}}', { m: { x: 'v', 'k/1': [1, { q: 2 }] } }],
  // a shape node holding another type stands in as an empty value of that type
  ['{"m":"a string"}', { m: '' }],
  ['{"m":42}', { m: 0 }],
  ['{"m":[{"x":1}]}', { m: [] }],
  ['{"m":true}', { m: true }],
  ['{"m":null}', { m: null }],
  ['{"list":[1,2]}', { list: [] }],
  ['"top-level string"', ''],
  ['[1,2,3]', []],
  // duplicates: the last one wins, whole subtrees included
  ['{"a":1,"a":2}', { a: 2 }],
  ['{"m":{"x":1},"m":{"z":2}}', { m: {} }],
  // keys written with escapes match their decoded form
  ['{"\\u0061":"escaped a","m":{"k\\/1":"slash"}}', { a: 'escaped a', m: { 'k/1': 'slash' } }],
  ['{"m":{"x":"\\"quoted\\""}}', { m: { x: '"quoted"' } }],
];

for (const [text, expected] of pruning) {
  test(`pruning ${text}`, () => {
    assert.deepEqual(skimJson(Buffer.from(text), shape), { ok: true, value: expected });
  });
}

test('a "__proto__" key is an own property, as with JSON.parse', () => {
  // (a literal { __proto__: ... } would set the prototype; JSON.parse makes the own key)
  const r = skimJson(Buffer.from('{"__proto__":{"polluted":1}}'), JSON.parse('{"__proto__":"keep"}') as SkimShape);
  assert.ok(r.ok);
  assert.ok(Object.hasOwn(r.value as object, '__proto__'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('depth: 100 levels are read, 101 are refused, and a million are refused without recursion', () => {
  const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  assert.equal(skimJson(Buffer.from(nest(100)), 'keep').ok, true);
  assert.equal(skimJson(Buffer.from(nest(100)), shape).ok, true);
  const deep = { ok: false, message: 'request body nests objects and arrays deeper than 100 levels' };
  assert.deepEqual(skimJson(Buffer.from(nest(101)), shape), deep);
  assert.deepEqual(skimJson(Buffer.from(`{"a":${nest(100)}}`), shape), deep);
  assert.deepEqual(skimJson(Buffer.from(nest(1_000_000)), shape), deep);
  assert.deepEqual(skimJson(Buffer.from('{"a":'.repeat(1_000_000)), shape), deep);
});

test('skipped values are not decoded: a 3 MiB string under an unlisted key costs no string', () => {
  const body = Buffer.from(`{"skip":"${'x'.repeat(3 * 1024 * 1024)}","a":"kept"}`);
  assert.deepEqual(skimJson(body, shape), { ok: true, value: { a: 'kept' } });
});
