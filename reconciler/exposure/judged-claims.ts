// A pod's claims as the IP controller judged them (namespace IP policy applied, conflicts
// resolved): the one reading of "which IPs did this pod's workload win" that the Service and
// firewall controllers share — a second parse of the annotation is how a policy gets bypassed.
import type { V1Pod } from '@kubernetes/client-node';
import type { ClaimsView } from '../ip/controller.ts';
import { selects } from './facts.ts';
import type { PodClaims } from './model.ts';

const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** Won, lost to another workload, or refused by the policy; an IP not planned yet is neither. */
export function judgedClaims(pod: V1Pod, claims: Pick<ClaimsView, 'podClaim' | 'winner'>): PodClaims {
  const c = claims.podClaim(pod);
  const won: string[] = [];
  const lost: string[] = [];
  const pending: string[] = [];
  for (const ip of c.ips) {
    const winner = claims.winner(ip);
    if (winner === undefined) pending.push(ip); // not planned yet: nothing to expose, nothing to say
    else (c.workload !== undefined && winner === c.workload ? won : lost).push(ip);
  }
  return {
    namespace: pod.metadata?.namespace ?? '',
    labels: pod.metadata?.labels ?? {},
    addresses: won.map((text) => ({ text, family: family(text) })),
    ...(lost.length > 0 ? { lost } : {}),
    ...(c.notAllowed ? { notAllowed: c.notAllowed.message } : {}),
    ...(pending.length > 0 ? { pending } : {}),
  };
}

/**
 * Does any pod these Services select claim an IP the IP controller has not judged yet? Then
 * what the Service (or the firewall) says now is left as it is: a new leader that wrote before
 * its first plan would take every anchor out of externalIPs (and every port out of the
 * firewall) for a moment — long enough for kube-proxy's conntrack to blackhole a UDP flow.
 */
export function awaitingJudgement(services: readonly { namespace: string; selector: Readonly<Record<string, string>> | undefined }[], pods: readonly PodClaims[]): boolean {
  return pods.some((p) => p.pending !== undefined && services.some((svc) => svc.namespace === p.namespace && selects(svc.selector, p.labels)));
}
