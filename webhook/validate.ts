// One validate() for Pods and every workload kind: find the pod metadata (the Pod's own, or
// the kind's pod template), check the floating-IP annotation, and describe the problem so
// the user can fix it from the `kubectl apply` output alone. Pure: no I/O, no clock.
// Any field may have any JSON type (only the API server is trusted to send typed objects):
// nothing here assumes a type it has not checked, and input is quoted only in short form.
import { parseAddressList } from '../shared/addresses.ts';
import { ALLOW_ALL, notAllowedSummary } from '../shared/ip-policy.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { LABEL_VALUE } from '../shared/keys.ts';
import type { AdmissionRequest } from './review.ts';
import { echo, shorten } from './echo.ts';

/** Where each kind keeps the metadata its pods get. */
export const POD_METADATA_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['metadata'],
  Deployment: ['spec', 'template', 'metadata'],
  StatefulSet: ['spec', 'template', 'metadata'],
  DaemonSet: ['spec', 'template', 'metadata'],
  ReplicaSet: ['spec', 'template', 'metadata'],
  ReplicationController: ['spec', 'template', 'metadata'],
  Job: ['spec', 'template', 'metadata'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'],
};

/** Pod metadata as received: every field may hold any JSON value. */
export interface ObjectMetadata {
  readonly name?: unknown;
  readonly generateName?: unknown;
  readonly namespace?: unknown;
  readonly annotations?: unknown;
  readonly labels?: unknown;
  readonly deletionTimestamp?: unknown;
}

export type ValidationResult =
  | { readonly allowed: true; readonly warnings: readonly string[] }
  | { readonly allowed: false; readonly message: string; readonly warnings: readonly string[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function at(object: unknown, path: readonly string[]): unknown {
  let cur = object;
  for (const key of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function metadataAt(object: unknown, path: readonly string[]): ObjectMetadata {
  const m = at(object, path);
  return isRecord(m) ? (m as ObjectMetadata) : {};
}

/** The path of the kind's pod metadata; own keys only, so "constructor" or "__proto__" is no kind. */
export function podMetadataPath(kind: string): readonly string[] | undefined {
  return Object.hasOwn(POD_METADATA_PATHS, kind) ? POD_METADATA_PATHS[kind] : undefined;
}

/** The metadata the kind's pods carry, or undefined for a kind floatip does not know. */
export function podMetadata(kind: string, object: unknown): ObjectMetadata | undefined {
  const path = podMetadataPath(kind);
  return path ? metadataAt(object, path) : undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `Deployment default/traefik`; on CREATE of a generated name, the prefix (`Pod default/web-7d9c-`). */
export function describeObject(request: AdmissionRequest): string {
  const meta = metadataAt(request.object, ['metadata']);
  const name = shorten(request.name || text(meta.name) || text(meta.generateName));
  const namespace = shorten(request.namespace || text(meta.namespace));
  const kind = shorten(request.kind.kind);
  const id = namespace ? `${namespace}/${name}` : name;
  return id ? `${kind} ${id}` : kind;
}

function value(map: unknown, key: string): unknown {
  return isRecord(map) && Object.hasOwn(map, key) ? map[key] : undefined;
}

const templatePath = (kind: string) => (podMetadataPath(kind) ?? []).join('.');

/** The namespace the pods will run in: the request's (the API server sets it), else the object's. */
function namespaceOf(request: AdmissionRequest): string {
  return request.namespace || text(metadataAt(request.object, ['metadata']).namespace) || 'default';
}

export function validate(request: AdmissionRequest, keys: FloatingIpKeys, policy: IpPolicy = ALLOW_ALL): ValidationResult {
  const kind = request.kind.kind;
  const meta = podMetadata(kind, request.object);
  if (meta === undefined || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { allowed: true, warnings: [] };
  }
  const who = describeObject(request);
  const warnings: string[] = [];
  const annotation = value(meta.annotations, keys.annotation);
  const label = value(meta.labels, keys.label);

  if (kind !== 'Pod') {
    // On the workload's own metadata the key reaches no pod: a common slip worth a word.
    const own = metadataAt(request.object, ['metadata']);
    if (value(own.annotations, keys.annotation) !== undefined && annotation === undefined) {
      warnings.push(
        `${who}: annotation ${keys.annotation} is on the ${kind} itself and has no effect; put it in ${templatePath(kind)}.annotations`,
      );
    }
  }
  if (label !== undefined && annotation === undefined) {
    warnings.push(
      `${who}: label ${keys.label} is set without the ${keys.annotation} annotation, so floatip routes no IP to ${kind === 'Pod' ? 'this pod' : 'these pods'}`,
    );
  }
  if (label !== undefined && annotation !== undefined && label !== LABEL_VALUE && kind !== 'Pod') {
    warnings.push(`${who}: label ${keys.label}=${echo(label)} will be set to "${LABEL_VALUE}" on each pod`);
  }
  if (annotation === undefined) return { allowed: true, warnings };

  const parsed =
    typeof annotation === 'string'
      ? parseAddressList(annotation)
      : { ok: false as const, reason: `the value must be a string, got ${echo(annotation)}` };
  // The namespace IP policy: every address listed must be one the namespace may claim.
  // shortened for the message; a name over 63 characters matches no listed namespace either way
  const namespace = shorten(namespaceOf(request));
  const refused = parsed.ok ? parsed.addresses.filter((a) => !policy.allows(namespace, a.text)) : [];
  if (parsed.ok && refused.length === 0) {
    if (kind === 'Pod' && label !== undefined && label !== LABEL_VALUE) {
      warnings.push(`${who}: label ${keys.label}=${echo(label)} is not "${LABEL_VALUE}"; floatip's reconciler selects ${keys.selector}`);
    }
    return { allowed: true, warnings };
  }
  const reason = parsed.ok ? notAllowedSummary(policy, namespace, refused.map((a) => a.text)) : parsed.reason;
  const message = `${who}: annotation ${keys.annotation}: ${reason}`;

  // Objects admitted before the webhook (or the IP policy) existed must stay editable (finalizer
  // removal, scaling, deletion) as long as the edit leaves the value as it was: warn, do not
  // block. The reconciler ignores a refused address all the same.
  if (request.operation === 'UPDATE') {
    const oldAnnotation = value(podMetadata(kind, request.oldObject)?.annotations, keys.annotation);
    const deleting = metadataAt(request.object, ['metadata']).deletionTimestamp !== undefined;
    if (oldAnnotation === annotation || deleting) {
      const why = deleting ? 'the object is being deleted' : 'this update does not change it';
      return { allowed: true, warnings: [...warnings, `${message} (allowed because ${why})`] };
    }
  }
  return { allowed: false, message, warnings };
}
