// Which Services expose an IP's winner, from the IP controller's claim view (ip/controller.ts
// ClaimsView; judged-claims.ts reads a pod's claims the same way): the Services a failover's
// assign flushes first.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ClaimsView } from '../ip/controller.ts';
import { selects } from './facts.ts';

type Claims = Pick<ClaimsView, 'podClaim' | 'winner'>;

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The keys (namespace/name) of the floatip Services whose selected pods belong to the workload that won `ip`. */
export function servicesClaiming(claims: Claims, services: readonly V1Service[], pods: () => readonly V1Pod[], ip: string): string[] {
  // On the failover path: with no floatip Service there is nothing to wait for, and no pod to look at.
  const winner = claims.winner(ip);
  if (services.length === 0 || winner === undefined) return [];
  const namespaces = new Set(services.map((svc) => svc.metadata?.namespace));
  const claimants = pods().filter((p) => {
    if (!namespaces.has(p.metadata?.namespace)) return false;
    const c = claims.podClaim(p);
    return c.workload === winner && c.ips.includes(ip);
  });
  return services
    .filter((svc) => claimants.some((p) => p.metadata?.namespace === svc.metadata?.namespace && selects(svc.spec?.selector, p.metadata?.labels ?? {})))
    .map(keyOf);
}
