// AdmissionReview wire format (admission.k8s.io/v1): decoding a request body and the four
// response builders. Only these functions shape what the API server reads, so every answer
// — including an internal error — is a well-formed AdmissionReview with the uid echoed.
// Decoding checks the type of every field it reads and quotes at most a short prefix of
// what it rejects.
import { echo } from './echo.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** The fields floatip reads; the API server sends more (resource, userInfo, options...). */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly operation: Operation;
  readonly namespace?: string;
  readonly name?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

export interface JsonPatchOperation {
  readonly op: 'add' | 'remove' | 'replace';
  readonly path: string;
  readonly value?: unknown;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document */
  readonly patch?: string;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

function withWarnings(warnings: readonly string[]): { warnings?: readonly string[] } {
  return warnings.length > 0 ? { warnings } : {};
}

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return review({ uid, allowed: true, ...withWarnings(warnings) });
}

/** The API server shows `message` to the user after "admission webhook ... denied the request: ". */
export function denied(uid: string, message: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message }, ...withWarnings(warnings) });
}

/** Allowed with a JSON Patch; an empty patch is a plain allow (the API server rejects "[]" on some versions). */
export function patched(
  uid: string,
  patch: readonly JsonPatchOperation[],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  if (patch.length === 0) return allowed(uid, warnings);
  return review({
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    ...withWarnings(warnings),
  });
}

/** The webhook failed, not the object: not allowed, with an error code the API server reports. */
export function errored(uid: string, code: number, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code, message } });
}

export type DecodeResult =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly message: string };

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** The API server sends a 36-character UUID; the uid is echoed whole, so it is bounded. */
export const MAX_UID_CHARS = 128;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks that a parsed JSON body is an admission.k8s.io/v1 AdmissionReview request. */
export function decodeAdmissionReview(body: unknown): DecodeResult {
  if (!isRecord(body)) return { ok: false, message: 'request body is not a JSON object' };
  if (body.kind !== 'AdmissionReview') {
    return { ok: false, message: `expected kind AdmissionReview, got ${echo(body.kind)}` };
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return {
      ok: false,
      message: `expected apiVersion ${ADMISSION_API_VERSION}, got ${echo(body.apiVersion)} (set admissionReviewVersions: [v1])`,
    };
  }
  const req = body.request;
  if (!isRecord(req)) return { ok: false, message: 'AdmissionReview has no request' };
  if (typeof req.uid !== 'string' || req.uid === '') return { ok: false, message: 'AdmissionReview request has no uid' };
  if (req.uid.length > MAX_UID_CHARS) {
    return { ok: false, message: `AdmissionReview request uid is ${req.uid.length} characters long; a Kubernetes UID has at most ${MAX_UID_CHARS}` };
  }
  const kind = req.kind;
  if (!isRecord(kind) || typeof kind.kind !== 'string') {
    return { ok: false, message: 'AdmissionReview request has no kind' };
  }
  if (typeof req.operation !== 'string' || !OPERATIONS.includes(req.operation)) {
    return { ok: false, message: `AdmissionReview request has an unknown operation ${echo(req.operation)}` };
  }
  const request: AdmissionRequest = {
    uid: req.uid,
    kind: {
      group: typeof kind.group === 'string' ? kind.group : '',
      version: typeof kind.version === 'string' ? kind.version : '',
      kind: kind.kind,
    },
    operation: req.operation as Operation,
    ...(typeof req.namespace === 'string' ? { namespace: req.namespace } : {}),
    ...(typeof req.name === 'string' ? { name: req.name } : {}),
    ...(req.object !== undefined && req.object !== null ? { object: req.object } : {}),
    ...(req.oldObject !== undefined && req.oldObject !== null ? { oldObject: req.oldObject } : {}),
    ...(typeof req.dryRun === 'boolean' ? { dryRun: req.dryRun } : {}),
  };
  return { ok: true, request };
}
