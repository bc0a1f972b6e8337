// The Service controller's reading of the IP controller's claim view (ip/controller.ts
// ClaimsView): which of a pod's reserved IPs its workload won, lost or may not claim, and which
// Services expose an IP's winner. Nothing is parsed here: a second parser of the annotation is
// how a policy gets bypassed.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ClaimsView } from '../ip/controller.ts';
import { selects } from './facts.ts';
import type { PodClaims } from './model.ts';

type Claims = Pick<ClaimsView, 'podClaim' | 'winner'>;

const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);
const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** A pod's claims as the IP controller judged them: won, lost to another workload, refused. */
export function podClaims(claims: Claims, pod: V1Pod): PodClaims {
  const c = claims.podClaim(pod);
  const won: string[] = [];
  const lost: string[] = [];
  for (const ip of c.ips) {
    const winner = claims.winner(ip);
    if (winner === undefined) continue; // not planned yet: nothing to expose, nothing to say
    (c.workload !== undefined && winner === c.workload ? won : lost).push(ip);
  }
  return {
    namespace: pod.metadata?.namespace ?? '',
    labels: pod.metadata?.labels ?? {},
    addresses: won.map((text) => ({ text, family: family(text) })),
    ...(lost.length > 0 ? { lost } : {}),
    ...(c.notAllowed ? { notAllowed: c.notAllowed.message } : {}),
  };
}

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
