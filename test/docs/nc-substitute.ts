// Stands in for `nc -u -w1 <reserved IP> <port>` in the quickstart test, where no packet can
// travel (kwok's pods run no process, and no DigitalOcean edge delivers the reserved IP). It
// follows the path a datagram would take, as the API server and the emulator describe it, and
// fails where a packet would be lost: DigitalOcean's holder of the IP (the emulator) → a cloud
// firewall on one of that droplet's tags admitting UDP to <port> (DOKS' own admit only NodePorts) → the anchor
// the agent recorded on that droplet's node → a Service of floatip's class listing that anchor
// in spec.externalIPs with a UDP port equal to <port> → a Ready pod it selects on that node.
// It then answers as agnhost netexec would: "hostname" → that pod's name. "clientip" cannot be
// answered without a packet; it prints a sentence saying so.
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const [ip, port] = args;
const fail = (why: string): never => {
  console.error(`nc (quickstart test substitute): ${ip}:${port}/udp: ${why}`);
  process.exit(1);
};
if (!process.argv.includes('-u') || !ip || !port) fail('only `nc -u [-w N] <ip> <port>` is substituted');
const command = readFileSync(0, 'utf8').trim().toLowerCase();

const emulator = process.env['FLOATIP_TEST_EMULATOR_URL'] ?? fail('FLOATIP_TEST_EMULATOR_URL is not set');
const holders = (await (await fetch(`${emulator}/_emulator/holders`)).json()) as Record<string, number | null>;
const droplet = holders[ip ?? ''];
if (droplet === undefined || droplet === null) fail('no droplet holds this reserved IP');

type Rule = { protocol: string; ports: string; sources?: { addresses?: string[] } };
const auth = { headers: { authorization: `Bearer ${process.env['DIGITALOCEAN_TOKEN'] ?? ''}` } };
const tags = ((await (await fetch(`${emulator}/v2/droplets/${droplet}`, auth)).json()) as { droplet: { tags: string[] } }).droplet.tags;
const firewalls = ((await (await fetch(`${emulator}/v2/firewalls?per_page=200`, auth)).json()) as { firewalls: { name: string; tags: string[]; inbound_rules: Rule[] }[] }).firewalls;
const portIn = (ports: string) => {
  const [from = '', to = from] = ports.split('-');
  return ports === '0' || ports === 'all' || (Number(from) <= Number(port) && Number(port) <= Number(to));
};
const admits = firewalls.find((f) => f.tags.some((t) => tags.includes(t)) && f.inbound_rules.some((r) => r.protocol === 'udp' && portIn(r.ports) && (r.sources?.addresses ?? []).includes('0.0.0.0/0')));
if (!admits) fail(`no DigitalOcean firewall on droplet ${droplet}'s tags (${tags.join(', ')}) admits udp/${port} from anywhere`);

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const node = (await core.listNode()).items.find((n) => n.spec?.providerID === `digitalocean://${droplet}`) ?? fail(`droplet ${droplet} is no node of the cluster`);
const nodeName = node.metadata?.name ?? '';
const anchor = node.metadata?.annotations?.['k8s.haim.dev/anchor-ipv4'] ?? fail(`node ${nodeName} has no anchor annotation (is the agent running?)`);
const services = (await core.listServiceForAllNamespaces()).items.filter(
  (s) => (s.spec?.externalIPs ?? []).includes(anchor) && (s.spec?.ports ?? []).some((p) => p.protocol === 'UDP' && p.port === Number(port)),
);
const service = services[0] ?? fail(`no Service lists the anchor ${anchor} of node ${nodeName} with UDP port ${port}`);
const selector = Object.entries(service.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
const pods = (await core.listNamespacedPod({ namespace: service.metadata?.namespace ?? '', labelSelector: selector })).items;
const pod =
  pods.find((p) => p.spec?.nodeName === nodeName && !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ??
  fail(`no Ready pod of Service ${service.metadata?.name} runs on node ${nodeName}, where the IP is`);
if (command === 'hostname') console.log(pod.metadata?.name);
else console.log(`(substituted: "${command}" needs a real packet; pod ${pod.metadata?.name} on ${nodeName} would answer it)`);
