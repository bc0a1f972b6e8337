// The traffic side of floatip, as the reconciler wires it: the Service controller (externalIPs
// and ingress of Services of floatip's class) and, unless opted out, the firewall controller,
// both on the process's runtime (they start and stop with the IP controller's term).
// Implements the IP controller's Exposure hooks (beforeAssign, holdersChanged) and takes the
// informer events.
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { CloudPort } from '../../shared/digitalocean/port.ts';
import type { AnchorRange } from '../../shared/anchors.ts';
import type { FloatingIpKeys } from '../../shared/keys.ts';
import { anchorAnnotationKey } from '../../shared/keys.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Exposure } from '../actuator.ts';
import type { EventSink } from '../events.ts';
import type { ClaimsView } from '../ip/controller.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { createFirewallController } from './firewall-controller.ts';
import type { FirewallController } from './firewall-controller.ts';
import type { ExposureMetrics } from './metrics.ts';
import type { PortPolicy } from './port-policy.ts';
import { createServiceController } from './service-controller.ts';
import type { ServiceController, ServiceWorld } from './service-controller.ts';
import type { ServiceWriter } from './service-writer.ts';

export interface ExposureConfig {
  readonly keys: FloatingIpKeys;
  readonly loadBalancerClass: string;
  readonly manageFirewall: boolean;
  readonly resyncIntervalMs: number;
  /** --firewall-allowed-ports / --firewall-denied-ports (default: port-policy.ts) */
  readonly firewallPorts?: PortPolicy | undefined;
  /** --anchor-range: what counts as a droplet anchor on a node (default 10.20.0.0/16) */
  readonly anchorRange?: AnchorRange | undefined;
  readonly dryRun?: boolean;
}

export interface ExposureDeps {
  readonly runtime: Runtime;
  readonly world: ServiceWorld;
  /** the IP controller's view of claims and the cluster's identity */
  readonly claims: ClaimsView;
  readonly writer: ServiceWriter;
  /** required when config.manageFirewall */
  readonly cloud?: CloudPort | undefined;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly metrics: ExposureMetrics;
  readonly config: ExposureConfig;
}

export interface ExposureControllers extends Exposure {
  readonly services: ServiceController;
  readonly firewall: FirewallController | undefined;
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
}

export function createExposure(deps: ExposureDeps): ExposureControllers {
  const { config, runtime } = deps;
  if (config.manageFirewall && !deps.cloud) throw new Error('firewall management needs a DigitalOcean client with the firewall calls');
  const services = createServiceController({
    runtime,
    world: deps.world,
    claims: deps.claims,
    writer: deps.writer,
    events: deps.events,
    logger: deps.logger,
    metrics: deps.metrics,
    config: {
      annotation: config.keys.annotation,
      anchorAnnotation: anchorAnnotationKey(config.keys.annotation),
      ...(config.anchorRange ? { anchorRange: config.anchorRange } : {}),
      loadBalancerClass: config.loadBalancerClass,
      resyncIntervalMs: config.resyncIntervalMs,
      dryRun: config.dryRun ?? false,
    },
  });
  const firewall =
    config.manageFirewall && deps.cloud
      ? createFirewallController({
          runtime,
          cloud: deps.cloud,
          world: deps.world,
          clusterUuid: () => deps.claims.clusterUuid(),
          logger: deps.logger,
          events: deps.events,
          metrics: deps.metrics,
          claims: deps.claims,
          config: { loadBalancerClass: config.loadBalancerClass, ports: config.firewallPorts, resyncIntervalMs: config.resyncIntervalMs, dryRun: config.dryRun ?? false },
        })
      : undefined;
  return {
    services,
    firewall,
    beforeAssign: (ip, dropletId, waitMs, signal) => services.beforeAssign(ip, dropletId, waitMs, signal),
    holdersChanged() {
      services.holdersChanged();
      firewall?.claimsChanged();
    },
    serviceChanged(svc, old) {
      services.serviceChanged(svc, old);
      firewall?.serviceChanged(svc, old);
    },
    podChanged(pod, old) {
      services.podChanged(pod, old);
      firewall?.claimsChanged();
    },
    nodeChanged: () => services.nodeChanged(),
  };
}
