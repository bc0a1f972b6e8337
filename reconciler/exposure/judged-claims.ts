// A pod's claims as the IP controller judged them (namespace IP policy applied, conflicts
// resolved): the one reading of "which IPs did this pod's workload win" that the Service and
// firewall controllers share — a second parse of the annotation is how a policy gets bypassed.
import type { V1Pod } from '@kubernetes/client-node';
import type { ClaimsView } from '../ip/controller.ts';
import type { PodClaims } from './model.ts';

const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** Won, lost to another workload, or refused by the policy; an IP not planned yet is neither. */
export function judgedClaims(pod: V1Pod, claims: Pick<ClaimsView, 'podClaim' | 'winner'>): PodClaims {
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
