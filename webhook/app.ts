// The HTTP edge: express routes around the pure review functions. Only this file writes
// the wire. A body that is not an AdmissionReview gets a 4xx with a short plain text; once a
// uid is known every answer — even a thrown error — is an AdmissionReview with HTTP 200.
// Every axis of the input is bounded before work is spent on it: body size, bytes being
// read or reviewed at once (the admission gate), JSON depth, and what is echoed back.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../shared/logger.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { decodeAdmissionReview, denied, errored, allowed, patched } from './review.ts';
import type { AdmissionRequest, AdmissionReviewResponse } from './review.ts';
import { podMetadataPath, validate } from './validate.ts';
import { mutate } from './mutate.ts';
import type { ReviewResult, WebhookMetrics } from './metrics.ts';
import { createAdmissionGate } from './admission-gate.ts';
import type { AdmissionGate } from './admission-gate.ts';
import { skimJson } from './skim.ts';
import { reviewShape } from './review-shape.ts';
import { shorten } from './echo.ts';

const MiB = 1024 * 1024;

/**
 * The API server sends at most about 3 MiB (its request limit; an object is at most 1.5 MiB
 * in etcd, and an UPDATE review carries it twice), so 3.5 MiB leaves room for the envelope.
 */
export const DEFAULT_MAX_BODY_BYTES = 3.5 * MiB;

/**
 * Bytes of bodies read or reviewed at once. Two maximum-size reviews: one is parsed while the
 * next one arrives, and a burst of small reviews (the usual case, a few KiB each) never waits.
 */
export const DEFAULT_ADMISSION_BUDGET_BYTES = 2 * DEFAULT_MAX_BODY_BYTES;

/**
 * How long a review waits for room before it is answered 429 with Retry-After: the API
 * server's client retries such an answer after that many seconds, within the webhook's
 * 5 s timeout, so a short wait here plus one retry fits the budget.
 */
export const DEFAULT_ADMISSION_WAIT_MS = 1000;
export const RETRY_AFTER_SECONDS = 1;

export interface AppDeps {
  readonly keys: FloatingIpKeys;
  /** namespace IP policy (--ip-policy-file); default: any namespace may claim any IP */
  readonly ipPolicy?: IpPolicy;
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  readonly maxBodyBytes?: number;
  /** default: DEFAULT_ADMISSION_BUDGET_BYTES and DEFAULT_ADMISSION_WAIT_MS */
  readonly gate?: AdmissionGate;
  /** false while starting or shutting down: /readyz answers 503 */
  readonly isReady: () => boolean;
  readonly now?: () => number;
}

/** Metric label for a kind: only the kinds floatip knows, so no request can add a series. */
const kindLabel = (kind: string) => (podMetadataPath(kind) ? kind : 'other');

function errorText(err: unknown): string {
  return shorten(err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error', 200);
}

/** A log line for a bug: the short message and where it was thrown, never a dump of the input. */
function bugFields(err: unknown): { err: string; stack?: string } {
  const frames = err instanceof Error ? err.stack?.split('\n').slice(1, 6).join('\n') : undefined;
  return frames ? { err: errorText(err), stack: frames } : { err: errorText(err) };
}

type Webhook = 'mutate' | 'validate';
type Handler = (request: AdmissionRequest) => AdmissionReviewResponse;

function text(res: Response, code: number, body: string): void {
  res.status(code).type('text/plain; charset=utf-8').send(`${body}\n`);
}

function resultOf(review: AdmissionReviewResponse): ReviewResult {
  const r = review.response;
  if (!r.allowed) return r.status?.code === 403 ? 'denied' : 'errored';
  return r.patch ? 'patched' : 'allowed';
}

export function createApp(deps: AppDeps): express.Express {
  const { keys, metrics } = deps;
  const now = deps.now ?? (() => performance.now());
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const shape = reviewShape(keys);
  const gate = deps.gate ?? createAdmissionGate({ budgetBytes: DEFAULT_ADMISSION_BUDGET_BYTES, maxWaitMs: DEFAULT_ADMISSION_WAIT_MS });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const handlers: Record<Webhook, Handler> = {
    validate: (request) => {
      const result = validate(request, keys, deps.ipPolicy);
      return result.allowed ? allowed(request.uid, result.warnings) : denied(request.uid, result.message, result.warnings);
    },
    mutate: (request) => {
      const result = mutate(request, keys);
      return patched(request.uid, result.patch, result.warnings);
    },
  };

  const refuse = (webhook: Webhook, req: Request, res: Response, code: number, message: string) => {
    metrics.badRequests.inc({ webhook, code: String(code) });
    deps.logger.warn({ webhook, code, reason: message }, 'refused a request that is not a usable AdmissionReview');
    // A body not read yet would otherwise be read to its end and thrown away: close instead.
    if (!req.complete) res.set('Connection', 'close');
    text(res, code, message);
  };

  for (const webhook of ['mutate', 'validate'] as const) {
    const checkContentType = (req: Request, res: Response, next: NextFunction) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        refuse(webhook, req, res, 415, `content type must be application/json, got ${JSON.stringify(shorten(req.headers['content-type'] ?? ''))}`);
        return;
      }
      next();
    };
    // Room in the gate before a byte of the body is read; a body declared over the limit
    // goes straight on, so express.raw answers 413 without waiting or reading it.
    const admit = async (req: Request, res: Response, next: NextFunction) => {
      const header = req.headers['content-length'];
      const declared = header === undefined ? undefined : Number(header);
      if (declared !== undefined && declared > maxBodyBytes) {
        next();
        return;
      }
      // Without a length (chunked), the body may be as large as the limit.
      const bytes = declared !== undefined && Number.isFinite(declared) ? declared : maxBodyBytes;
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      const pending = gate.acquire(bytes, gone.signal);
      metrics.admissionWaiting.set(gate.waiting);
      const release = await pending;
      metrics.admissionWaiting.set(gate.waiting);
      metrics.admissionBytes.set(gate.inFlightBytes);
      if (!release) {
        if (res.writableEnded || req.destroyed) return;
        res.set('Retry-After', String(RETRY_AFTER_SECONDS));
        refuse(webhook, req, res, 429, `the webhook is busy with other reviews; retry in ${RETRY_AFTER_SECONDS} s`);
        return;
      }
      res.once('close', () => {
        release();
        metrics.admissionBytes.set(gate.inFlightBytes);
        metrics.admissionWaiting.set(gate.waiting);
      });
      next();
    };
    const rawBody = express.raw({ type: () => true, limit: maxBodyBytes });
    app.post(`/${webhook}`, checkContentType, admit, rawBody, (req: Request, res: Response) => {
      const started = now();
      // Syntax and depth are checked over the whole body, but only the fields floatip reads
      // are decoded: no string or object graph the size of the body is ever built.
      const skimmed = skimJson(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), shape);
      if (!skimmed.ok) {
        refuse(webhook, req, res, 400, skimmed.message);
        return;
      }
      const decoded = decodeAdmissionReview(skimmed.value);
      if (!decoded.ok) {
        refuse(webhook, req, res, 400, decoded.message);
        return;
      }
      const request = decoded.request;
      const kind = kindLabel(request.kind.kind);
      const log = deps.logger.child({
        webhook,
        uid: request.uid,
        kind: shorten(request.kind.kind),
        operation: request.operation,
        namespace: request.namespace === undefined ? undefined : shorten(request.namespace),
        name: request.name === undefined ? undefined : shorten(request.name),
      });
      let review: AdmissionReviewResponse;
      try {
        review = handlers[webhook](request);
      } catch (err) {
        log.error(bugFields(err), 'review failed');
        review = errored(request.uid, 500, `floatip ${webhook} webhook failed: ${errorText(err)}`);
      }
      const result = resultOf(review);
      metrics.reviews.inc({ webhook, kind, operation: request.operation, result });
      metrics.latency.observe({ webhook }, (now() - started) / 1000);
      if (result === 'denied') log.info({ reason: review.response.status?.message }, 'denied');
      else log.debug({ result, warnings: review.response.warnings }, 'reviewed');
      res.status(200).json(review);
    });
  }

  app.get('/healthz', (_req, res) => text(res, 200, 'ok'));
  app.get('/readyz', (_req, res) => (deps.isReady() ? text(res, 200, 'ok') : text(res, 503, 'not ready')));
  app.get('/metrics', async (_req, res) => {
    res.status(200).type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((req: Request, res: Response) => text(res, 404, `no route for ${req.method} ${shorten(req.path)}`));

  // Body-parser errors (size, aborted upload, bad encoding) arrive here; never a bare 500.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    const webhook: Webhook = req.path === '/mutate' ? 'mutate' : 'validate';
    if (e.type === 'entity.too.large') {
      refuse(webhook, req, res, 413, `request body is larger than ${maxBodyBytes} bytes`);
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      refuse(webhook, req, res, e.status, `bad request: ${shorten(e.message ?? 'unreadable body', 200)}`);
    } else {
      // Only a bug gets here (input errors are 4xx above); say so rather than a bare 500.
      deps.logger.error(bugFields(err), 'unexpected error outside a review');
      text(res, 500, `floatip webhook failed before it could answer a review: ${errorText(err)}`);
    }
  });
  return app;
}
