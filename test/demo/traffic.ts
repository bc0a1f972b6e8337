// The traffic half of `npm run demo`: a Service of floatip's class for the gameserver, shown
// the way `kubectl get svc` shows it, and the floatip firewall the reconciler keeps on the
// emulated DigitalOcean account.
import { Watch } from '@kubernetes/client-node';
import type { CoreV1Api, KubeConfig, V1Service } from '@kubernetes/client-node';
import { waitFor } from '../cluster/harness.ts';

export const SERVICE = 'gameserver';

export function gameService(loadBalancerClass: string): V1Service {
  return {
    metadata: { name: SERVICE, namespace: 'default' },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass,
      selector: { app: SERVICE },
      externalTrafficPolicy: 'Local',
      allocateLoadBalancerNodePorts: false,
      ports: [
        { name: 'game', protocol: 'UDP', port: 7777 },
        { name: 'admin', protocol: 'TCP', port: 8080 },
      ],
    },
  };
}

const age = (created: Date | undefined) => {
  const s = Math.max(0, Math.round((Date.now() - (created?.getTime() ?? Date.now())) / 1000));
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m`;
};

/** The two lines `kubectl get svc NAME` prints (EXTERNAL-IP: ingress IPs, then spec.externalIPs). */
export function kubectlGetSvc(svc: V1Service): string[] {
  const ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '');
  const external = [...ingress, ...(svc.spec?.externalIPs ?? [])];
  const ports = (svc.spec?.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
  const rows = [
    ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    [svc.metadata?.name ?? '', svc.spec?.type ?? '', svc.spec?.clusterIP ?? '', external.length > 0 ? external.join(',') : '<pending>', ports, age(svc.metadata?.creationTimestamp)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join(''));
}

/** Waits until the Service lists exactly `externalIPs` and its ingress holds `ip`. */
export function serviceShowing(core: CoreV1Api, externalIPs: readonly string[], ip: string): Promise<V1Service> {
  return waitFor(
    `Service ${SERVICE} with externalIPs ${externalIPs.join(', ')} and ingress ${ip}`,
    async () => {
      const svc = await core.readNamespacedService({ namespace: 'default', name: SERVICE });
      const ok = svc.spec?.externalIPs?.join() === externalIPs.join() && svc.status?.loadBalancer?.ingress?.some((i) => i.ip === ip);
      return ok ? svc : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

interface StateFirewall {
  name: string;
  tags: string[];
  inbound_rules: { protocol: string; ports: string; sources: { addresses?: string[] } }[];
}

/** The firewall named `name` on the emulator, once it exists, as readable lines. */
export async function firewallLines(emulatorUrl: string, name: string): Promise<string[]> {
  const fw = await waitFor(`firewall ${name}`, async () => {
    const state = (await (await fetch(`${emulatorUrl}/_emulator/state`)).json()) as { firewalls: StateFirewall[] };
    return state.firewalls.find((f) => f.name === name);
  });
  return [
    `firewall ${fw.name}, targets tag ${fw.tags.join(', ')}:`,
    ...fw.inbound_rules.map((r) => `  inbound ${r.protocol} ${r.ports} from ${(r.sources.addresses ?? []).join(', ')}`),
  ];
}

/** Every distinct spec.externalIPs the Service shows from now on, in order (a watch). */
export async function watchExternalIPs(kc: KubeConfig): Promise<{ readonly seen: string[][]; stop(): void }> {
  const seen: string[][] = [];
  const request = await new Watch(kc).watch(
    '/api/v1/namespaces/default/services',
    { fieldSelector: `metadata.name=${SERVICE}` },
    (_phase: string, svc: V1Service) => {
      const ips = svc.spec?.externalIPs ?? [];
      if (seen.at(-1)?.join() !== ips.join()) seen.push(ips);
    },
    () => undefined,
  );
  return { seen, stop: () => request.abort() };
}
