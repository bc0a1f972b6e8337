// Prometheus metrics of the Service and firewall controllers, in the reconciler's registry.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface ExposureMetrics {
  /** server-side applies on Services (field: externalIPs, ingress, release) */
  readonly serviceWrites: Counter<'field'>;
  /** DigitalOcean firewall writes (op: create, update, delete) */
  readonly firewallWrites: Counter<'op'>;
  /** failed runs (controller: services, firewall) */
  readonly errors: Counter<'controller'>;
  /** Service writes the API server refused (admission policy, RBAC): reported apart from DigitalOcean errors */
  readonly exposeRefused: Counter;
  /** Services of floatip's load-balancer class */
  readonly services: Gauge;
  /** from an announced move to the Services' externalIPs listing the target's anchor */
  readonly beforeAssignSeconds: Histogram;
}

export function createExposureMetrics(registry: Registry): ExposureMetrics {
  const registers = [registry];
  return {
    serviceWrites: new Counter({ name: 'floatip_service_writes_total', help: 'Server-side applies on Services of floatip class, by field', labelNames: ['field'], registers }),
    firewallWrites: new Counter({ name: 'floatip_firewall_writes_total', help: 'Writes of the floatip DigitalOcean firewall, by operation', labelNames: ['op'], registers }),
    errors: new Counter({ name: 'floatip_exposure_errors_total', help: 'Failed Service or firewall reconcile runs', labelNames: ['controller'], registers }),
    exposeRefused: new Counter({ name: 'floatip_service_write_refusals_total', help: 'Service writes of floatip that the API server refused (e.g. a policy forbidding spec.externalIPs)', registers }),
    services: new Gauge({ name: 'floatip_services', help: 'Services of floatip load-balancer class', registers }),
    beforeAssignSeconds: new Histogram({
      name: 'floatip_expose_before_assign_seconds',
      help: "From an announced move to the target droplet's anchor being in the Services' externalIPs",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    }),
  };
}
