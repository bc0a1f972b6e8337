// Prometheus metrics of the webhook. One registry per server (tests make their own).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ReviewResult = 'allowed' | 'denied' | 'patched' | 'errored';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** answered AdmissionReviews (labels: webhook = mutate|validate, kind, operation, result) */
  readonly reviews: Counter<'webhook' | 'kind' | 'operation' | 'result'>;
  /** seconds from body received to answer written (label: webhook) */
  readonly latency: Histogram<'webhook'>;
  /** requests refused before review: bad content type, size, JSON (labels: webhook, code) */
  readonly badRequests: Counter<'webhook' | 'code'>;
  /** notAfter of the serving certificate in use, as a Unix time */
  readonly certExpiry: Gauge;
  /** serving certificate (re)loads (label: source = file|secret|initial) */
  readonly certReloads: Counter<'source'>;
  /** connections closed on arrival: every connection (of the client, or in all) was busy */
  readonly droppedConnections: Counter;
  /** idle connections closed to make room for a new one (connection-guard.ts) */
  readonly evictedConnections: Counter;
  /** bytes of request bodies admitted by the admission gate and not yet answered */
  readonly admissionBytes: Gauge;
  /** requests waiting for room in the admission gate */
  readonly admissionWaiting: Gauge;
}

export function createWebhookMetrics(opts: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    reviews: new Counter({
      name: 'floatip_webhook_reviews_total',
      help: 'AdmissionReviews answered, by webhook, kind, operation and result',
      labelNames: ['webhook', 'kind', 'operation', 'result'],
      registers,
    }),
    latency: new Histogram({
      name: 'floatip_webhook_review_duration_seconds',
      help: 'Time to answer one AdmissionReview',
      labelNames: ['webhook'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    badRequests: new Counter({
      name: 'floatip_webhook_bad_requests_total',
      help: 'Requests refused before review (content type, size, malformed JSON, not an AdmissionReview)',
      labelNames: ['webhook', 'code'],
      registers,
    }),
    certExpiry: new Gauge({
      name: 'floatip_webhook_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use (Unix time)',
      registers,
    }),
    certReloads: new Counter({
      name: 'floatip_webhook_certificate_loads_total',
      help: 'Serving certificate loads, by source',
      labelNames: ['source'],
      registers,
    }),
    droppedConnections: new Counter({
      name: 'floatip_webhook_connections_dropped_total',
      help: 'Connections closed on arrival because every connection of the client, or of all clients, was busy with a request',
      registers,
    }),
    evictedConnections: new Counter({
      name: 'floatip_webhook_connections_evicted_total',
      help: 'Idle connections closed to make room for a new one: the oldest never used first, of the client holding the most',
      registers,
    }),
    admissionBytes: new Gauge({
      name: 'floatip_webhook_admission_bytes',
      help: 'Bytes of request bodies being read or reviewed (bounded by the admission budget)',
      registers,
    }),
    admissionWaiting: new Gauge({
      name: 'floatip_webhook_admission_waiting',
      help: 'Requests waiting for room in the admission budget',
      registers,
    }),
  };
}
