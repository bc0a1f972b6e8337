// Mutation: a Pod carrying the floating-IP annotation gets the label the reconciler selects
// on. The patch is the diff between the raw object and an edited copy — no typed round
// trip, so unknown fields survive, a missing `labels` map becomes one `add`, `/` in the key
// is escaped, and an already-labelled pod yields no patch at all (idempotent).
import type { FloatingIpKeys } from '../shared/keys.ts';
import { LABEL_VALUE } from '../shared/keys.ts';
import type { AdmissionRequest, JsonPatchOperation } from './review.ts';
import { echo } from './echo.ts';

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  return false;
}

/** JSON Patch turning `from` into `to`: objects are walked key by key, anything else is replaced whole. */
export function diffJson(from: unknown, to: unknown, path = ''): JsonPatchOperation[] {
  if (sameJson(from, to)) return [];
  if (!isRecord(from) || !isRecord(to)) return [{ op: 'replace', path, value: to }];
  const ops: JsonPatchOperation[] = [];
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: `${path}/${escapePointerToken(key)}` });
  }
  for (const [key, value] of Object.entries(to)) {
    const child = `${path}/${escapePointerToken(key)}`;
    if (!Object.hasOwn(from, key)) ops.push({ op: 'add', path: child, value });
    else ops.push(...diffJson(from[key], value, child));
  }
  return ops;
}

/** The edited copy: the label set to "true" when the annotation is present; nothing removed. */
export function withFloatingIpLabel(pod: Record<string, unknown>, keys: FloatingIpKeys): Record<string, unknown> {
  const metadata = isRecord(pod.metadata) ? pod.metadata : {};
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  if (!Object.hasOwn(annotations, keys.annotation)) return pod;
  const labels = isRecord(metadata.labels) ? metadata.labels : {};
  if (labels[keys.label] === LABEL_VALUE) return pod;
  return { ...pod, metadata: { ...metadata, labels: { ...labels, [keys.label]: LABEL_VALUE } } };
}

export interface MutationResult {
  readonly patch: readonly JsonPatchOperation[];
  readonly warnings: readonly string[];
}

export function mutate(request: AdmissionRequest, keys: FloatingIpKeys): MutationResult {
  const pod = request.object;
  if (request.kind.kind !== 'Pod' || !isRecord(pod)) return { patch: [], warnings: [] };
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { patch: [], warnings: [] };
  const patch = diffJson(pod, withFloatingIpLabel(pod, keys));
  const before = isRecord(pod.metadata) && isRecord(pod.metadata.labels) ? pod.metadata.labels[keys.label] : undefined;
  const warnings =
    patch.length > 0 && before !== undefined
      ? [`label ${keys.label}=${echo(before)} was set to "${LABEL_VALUE}" because the pod carries the ${keys.annotation} annotation`]
      : [];
  return { patch, warnings };
}
