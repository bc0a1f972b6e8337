// What the webhook repeats of its input — in answers, warnings and log lines — is a short
// prefix: a multi-MiB `kind` or label must not become a multi-MiB error body or log line.
// Objects and arrays are named by type only, so nothing here walks (or stringifies) them.

export const ECHO_MAX_CHARS = 64;

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** `text` cut to at most `max` characters, ending in "..." when cut (never inside a surrogate pair). */
export function shorten(text: string, max = ECHO_MAX_CHARS): string {
  if (text.length <= max) return text;
  let cut = max - 3;
  if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
  return `${text.slice(0, cut)}...`;
}

/** A value as a message shows it: a short JSON string, a number or literal, or just its type. */
export function echo(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'nothing';
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}
