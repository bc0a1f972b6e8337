// Reads a JSON body without building it. One pass over the bytes checks the whole syntax and
// the nesting depth (explicit stack, no recursion) and keeps only the fields a shape names;
// every other value is stepped over without allocating. A 3 MiB Pod review then costs its
// few metadata fields instead of a 3 MiB string and a 10 MiB object graph, which is what
// keeps concurrent maximum-size reviews inside the webhook's memory limit.
//
// The kept value is JSON.parse's value pruned to the shape: at a shape node an object keeps
// only the keys the shape lists (duplicate keys: the last one wins, as in JSON.parse), and a
// value of another type stands in as an empty one of its type ('' for a string, 0 for a
// number, [] for an array; true, false and null as they are), so every type check on the
// pruned value answers as it would on the full one. 'keep' keeps a value whole.

export type SkimShape = { readonly [key: string]: SkimShape | 'keep' };

export type SkimResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

/** Far deeper than any Kubernetes object (a CronJob's managedFields nest about 25 levels). */
export const MAX_JSON_DEPTH = 100;

type Target = SkimShape | 'keep' | null;

interface Frame {
  readonly array: boolean;
  readonly target: SkimShape | 'keep';
  /** shape-mode object: the pruned object being filled */
  readonly out: Record<string, unknown> | null;
  /** offset of the opening bracket, for 'keep' */
  readonly start: number;
  /** the key just read, when the shape lists it */
  childKey: string | null;
  childTarget: Target;
}

interface CompiledShape {
  readonly targets: ReadonlyMap<string, SkimShape | 'keep'>;
  /** keys longer than this (in raw bytes, escapes included) can match nothing */
  readonly maxRawKeyBytes: number;
}

const compiled = new WeakMap<SkimShape, CompiledShape>();

function compile(shape: SkimShape): CompiledShape {
  let c = compiled.get(shape);
  if (!c) {
    const keys = Object.keys(shape);
    // \uXXXX spends 6 bytes on one UTF-16 unit: no longer key can decode to a listed one.
    c = { targets: new Map(keys.map((k) => [k, shape[k] as SkimShape | 'keep'])), maxRawKeyBytes: 6 * Math.max(0, ...keys.map((k) => k.length)) };
    compiled.set(shape, c);
  }
  return c;
}

// What may come next.
const VALUE = 0;
const VALUE_OR_CLOSE = 1; // just after '['
const KEY = 2;
const KEY_OR_CLOSE = 3; // just after '{'
const COLON = 4;
const COMMA_OR_CLOSE = 5;
const END = 6;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

function describe(bytes: Buffer, i: number): string {
  const b = bytes[i] ?? 0;
  const shown = b >= 0x21 && b <= 0x7e ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
  return `unexpected ${shown} at offset ${i}`;
}

class SkimError extends Error {}

/** End (exclusive) of the string starting at the quote at `i`; sets `escaped` when it has escapes. */
function scanString(bytes: Buffer, i: number, flags: { escaped: boolean }): number {
  flags.escaped = false;
  const n = bytes.length;
  for (let j = i + 1; j < n; j++) {
    const c = bytes[j] ?? 0;
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) {
      flags.escaped = true;
      const e = bytes[j + 1];
      if (e === 0x75) {
        for (let k = j + 2; k < j + 6; k++) if (!isHex(bytes[k] ?? 0)) throw new SkimError(k >= n ? 'it ends inside a string' : `${describe(bytes, k)} (in a \\u escape)`);
        j += 5;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        j += 1;
      } else {
        throw new SkimError(j + 1 >= n ? 'it ends inside a string' : `${describe(bytes, j + 1)} (after a backslash)`);
      }
    } else if (c < 0x20) {
      throw new SkimError(`${describe(bytes, j)} (a control character inside a string)`);
    }
  }
  throw new SkimError('it ends inside a string');
}

/** End (exclusive) of the number at `i`: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function scanNumber(bytes: Buffer, i: number): number {
  let j = i;
  const digits = () => {
    const from = j;
    while (isDigit(bytes[j] ?? -1)) j++;
    if (j === from) throw new SkimError(j >= bytes.length ? 'it ends inside a number' : `${describe(bytes, j)} (in a number)`);
  };
  if (bytes[j] === 0x2d) j++;
  if (bytes[j] === 0x30) j++;
  else digits();
  if (bytes[j] === 0x2e) {
    j++;
    digits();
  }
  if (bytes[j] === 0x65 || bytes[j] === 0x45) {
    j++;
    if (bytes[j] === 0x2b || bytes[j] === 0x2d) j++;
    digits();
  }
  return j;
}

const LITERALS: ReadonlyArray<readonly [number, string, boolean | null]> = [
  [0x74, 'true', true],
  [0x66, 'false', false],
  [0x6e, 'null', null],
];

function define(out: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, so a key such as "__proto__" is an own property, as JSON.parse makes it.
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `bytes` as JSON, pruned to `shape`; or why it is not JSON (syntax, or deeper than maxDepth).
 * Linear in the length; allocates only for kept values.
 */
export function skimJson(bytes: Buffer, shape: SkimShape | 'keep', maxDepth = MAX_JSON_DEPTH): SkimResult {
  try {
    return { ok: true, value: skim(bytes, shape, maxDepth) };
  } catch (err) {
    if (err instanceof DepthError) return { ok: false, message: err.message };
    if (err instanceof SkimError) return { ok: false, message: `request body is not valid JSON: ${err.message}` };
    throw err;
  }
}

class DepthError extends Error {}

function skim(bytes: Buffer, shape: SkimShape | 'keep', maxDepth: number): unknown {
  const n = bytes.length;
  const frames: Frame[] = [];
  // Containers inside skipped values only need their kind: 1 = array, 0 = object.
  const skipped = new Uint8Array(maxDepth + 1);
  let skipDepth = 0;
  let root: unknown;
  let state = VALUE;
  let target: Target = shape;
  const flags = { escaped: false };

  const deliver = (value: unknown) => {
    const parent = frames[frames.length - 1];
    if (!parent) root = value;
    else if (parent.out && parent.childKey !== null) define(parent.out, parent.childKey, value);
  };
  const afterValue = () => (frames.length + skipDepth === 0 ? END : COMMA_OR_CLOSE);
  const inArray = () => (skipDepth > 0 ? skipped[skipDepth - 1] === 1 : frames[frames.length - 1]?.array === true);

  const open = (i: number, array: boolean) => {
    if (frames.length + skipDepth >= maxDepth) throw new DepthError(`request body nests objects and arrays deeper than ${maxDepth} levels`);
    if (target === null) {
      skipped[skipDepth++] = array ? 1 : 0;
    } else {
      const out = !array && target !== 'keep' ? {} : null;
      frames.push({ array, target, out, start: i, childKey: null, childTarget: null });
    }
    target = null;
    state = array ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
  };

  const close = (i: number) => {
    if (skipDepth > 0) {
      skipDepth--;
    } else {
      const frame = frames.pop() as Frame;
      if (frame.target === 'keep') deliver(JSON.parse(bytes.toString('utf8', frame.start, i + 1)));
      else deliver(frame.array ? [] : frame.out);
    }
    state = afterValue();
  };

  let i = 0;
  for (;;) {
    while (i < n && isSpace(bytes[i] ?? 0)) i++;
    if (i >= n) break;
    const b = bytes[i] ?? 0;
    switch (state) {
      case VALUE:
      case VALUE_OR_CLOSE: {
        if (b === 0x5d && state === VALUE_OR_CLOSE) {
          close(i++);
          continue;
        }
        if (b === 0x7b || b === 0x5b) {
          open(i++, b === 0x5b);
          continue;
        }
        let end: number;
        let value: unknown;
        if (b === QUOTE) {
          end = scanString(bytes, i, flags);
          if (target === 'keep') value = flags.escaped ? JSON.parse(bytes.toString('utf8', i, end)) : bytes.toString('utf8', i + 1, end - 1);
          else value = '';
        } else if (b === 0x2d || isDigit(b)) {
          end = scanNumber(bytes, i);
          value = target === 'keep' ? Number(bytes.toString('latin1', i, end)) : 0;
        } else {
          const literal = LITERALS.find(([first]) => first === b);
          if (!literal) throw new SkimError(describe(bytes, i));
          const [, text, v] = literal;
          for (let k = 1; k < text.length; k++) {
            if (bytes[i + k] !== text.charCodeAt(k)) throw new SkimError(i + k >= n ? 'it ends inside a literal' : describe(bytes, i + k));
          }
          end = i + text.length;
          value = v;
        }
        if (target !== null) deliver(value);
        i = end;
        state = afterValue();
        continue;
      }
      case KEY:
      case KEY_OR_CLOSE: {
        if (b === 0x7d && state === KEY_OR_CLOSE) {
          close(i++);
          continue;
        }
        if (b !== QUOTE) throw new SkimError(`${describe(bytes, i)} (expected a key in quotes)`);
        const end = scanString(bytes, i, flags);
        const frame = skipDepth === 0 ? frames[frames.length - 1] : undefined;
        if (frame?.out && frame.target !== 'keep') {
          const c = compile(frame.target);
          let key: string | null = null;
          if (end - i - 2 <= c.maxRawKeyBytes) {
            key = flags.escaped ? (JSON.parse(bytes.toString('utf8', i, end)) as string) : bytes.toString('utf8', i + 1, end - 1);
          }
          const child = key === null ? undefined : c.targets.get(key);
          frame.childKey = child === undefined ? null : key;
          frame.childTarget = child ?? null;
        }
        i = end;
        state = COLON;
        continue;
      }
      case COLON: {
        if (b !== 0x3a) throw new SkimError(`${describe(bytes, i)} (expected ":")`);
        i++;
        const frame = skipDepth === 0 ? frames[frames.length - 1] : undefined;
        target = frame ? frame.childTarget : null;
        state = VALUE;
        continue;
      }
      case COMMA_OR_CLOSE: {
        const array = inArray();
        if (b === 0x2c) {
          i++;
          state = array ? VALUE : KEY;
          const frame = skipDepth === 0 ? frames[frames.length - 1] : undefined;
          if (frame) {
            frame.childKey = null;
            frame.childTarget = null;
          }
          target = null;
          continue;
        }
        if (b === (array ? 0x5d : 0x7d)) {
          close(i++);
          continue;
        }
        throw new SkimError(`${describe(bytes, i)} (expected "," or "${array ? ']' : '}'}")`);
      }
      default:
        throw new SkimError(`${describe(bytes, i)} (after the end of the JSON value)`);
    }
  }
  if (state === END) return root;
  throw new SkimError(n === 0 || (state === VALUE && frames.length + skipDepth === 0) ? 'it is empty' : 'it ends before the JSON value does');
}
