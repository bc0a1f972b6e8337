// The HTTP edge: express routes around the pure review functions. Only this file writes
// the wire. A body that is not an AdmissionReview gets a 4xx with plain text; once a uid is
// known every answer — even a thrown error — is an AdmissionReview with HTTP 200.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../shared/logger.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { decodeAdmissionReview, denied, errored, allowed, patched } from './review.ts';
import type { AdmissionRequest, AdmissionReviewResponse } from './review.ts';
import { validate } from './validate.ts';
import { mutate } from './mutate.ts';
import type { ReviewResult, WebhookMetrics } from './metrics.ts';

/** The API server sends at most ~3 MiB objects; 7 MiB matches controller-runtime's cap. */
export const DEFAULT_MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface AppDeps {
  readonly keys: FloatingIpKeys;
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  readonly maxBodyBytes?: number;
  /** false while starting or shutting down: /readyz answers 503 */
  readonly isReady: () => boolean;
  readonly now?: () => number;
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
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const handlers: Record<Webhook, Handler> = {
    validate: (request) => {
      const result = validate(request, keys);
      return result.allowed ? allowed(request.uid, result.warnings) : denied(request.uid, result.message, result.warnings);
    },
    mutate: (request) => {
      const result = mutate(request, keys);
      return patched(request.uid, result.patch, result.warnings);
    },
  };

  const refuse = (webhook: Webhook, res: Response, code: number, message: string) => {
    metrics.badRequests.inc({ webhook, code: String(code) });
    deps.logger.warn({ webhook, code, reason: message }, 'refused a request that is not a usable AdmissionReview');
    text(res, code, message);
  };

  for (const webhook of ['mutate', 'validate'] as const) {
    const checkContentType = (req: Request, res: Response, next: NextFunction) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        refuse(webhook, res, 415, `content type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
        return;
      }
      next();
    };
    const rawBody = express.raw({ type: () => true, limit: maxBodyBytes });
    app.post(`/${webhook}`, checkContentType, rawBody, (req: Request, res: Response) => {
      const started = now();
      let body: unknown;
      try {
        body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
      } catch (err) {
        refuse(webhook, res, 400, `request body is not valid JSON: ${(err as Error).message}`);
        return;
      }
      const decoded = decodeAdmissionReview(body);
      if (!decoded.ok) {
        refuse(webhook, res, 400, decoded.message);
        return;
      }
      const request = decoded.request;
      const log = deps.logger.child({
        webhook,
        uid: request.uid,
        kind: request.kind.kind,
        operation: request.operation,
        namespace: request.namespace,
        name: request.name,
      });
      let review: AdmissionReviewResponse;
      try {
        review = handlers[webhook](request);
      } catch (err) {
        log.error({ err }, 'review failed');
        review = errored(request.uid, 500, `floatip ${webhook} webhook failed: ${(err as Error)?.message ?? String(err)}`);
      }
      const result = resultOf(review);
      metrics.reviews.inc({ webhook, kind: request.kind.kind, operation: request.operation, result });
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
  app.use((req: Request, res: Response) => text(res, 404, `no route for ${req.method} ${req.path}`));

  // Body-parser errors (size, aborted upload, bad encoding) arrive here; never a bare 500.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    const webhook: Webhook = req.path === '/mutate' ? 'mutate' : 'validate';
    if (e.type === 'entity.too.large') {
      refuse(webhook, res, 413, `request body is larger than ${maxBodyBytes} bytes`);
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      refuse(webhook, res, e.status, `bad request: ${e.message ?? 'unreadable body'}`);
    } else {
      deps.logger.error({ err }, 'unexpected error outside a review');
      text(res, 500, 'internal error');
    }
  });
  return app;
}
