// Stands in for doctl in the quickstart test: doctl cannot be fetched from the Go module proxy
// here. It implements exactly the doctl commands docs/quickstart.md runs, against the DigitalOcean
// emulator's real /v2 API, printing what doctl prints (its column names, `--no-header`):
//   doctl compute reserved-ip get <ip> --format DropletID [--no-header]
//   doctl compute firewall list --format Name,InboundRules [--no-header]
// Anything else exits 2 naming the command, so a new doctl line in the quickstart fails the
// test until it is implemented here (or FLOATIP_DOCTL points at a real doctl).
const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
};
const words = argv.filter((a, i) => !a.startsWith('--') && !(argv[i - 1] ?? '').match(/^--(format|api-url|access-token)$/));
const api = flag('--api-url') ?? '';
const token = flag('--access-token') ?? '';
const header = !argv.includes('--no-header');
const format = (flag('--format') ?? '').split(',');

async function get(path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${api}/v2${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) {
    console.error(`Error: GET ${api}/v2${path}: ${res.status} ${await res.text()}`);
    process.exit(1);
  }
  return (await res.json()) as Record<string, unknown>;
}

/** doctl's table: columns padded to the widest cell, separated by spaces. */
function table(columns: Record<string, string>, rows: Record<string, string>[]): void {
  const names = format.map((f) => columns[f] ?? f);
  const cells = rows.map((r) => format.map((f) => r[f] ?? ''));
  const all = header ? [names, ...cells] : cells;
  const widths = format.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 4))).join('').trimEnd());
}

type Rule = { protocol: string; ports: string; sources?: { addresses?: string[]; tags?: string[] } };
const command = words.join(' ');
if (/^compute reserved-ip get \S+$/.test(command)) {
  const ip = words[3] ?? '';
  const body = (await get(`/reserved_ips/${ip}`))['reserved_ip'] as { ip: string; droplet?: { id: number; name: string } | null; region?: { slug: string } };
  table({ IP: 'IP', Region: 'Region', DropletID: 'Droplet ID', DropletName: 'Droplet Name' }, [
    { IP: body.ip, Region: body.region?.slug ?? '', DropletID: body.droplet ? String(body.droplet.id) : '', DropletName: body.droplet?.name ?? '' },
  ]);
} else if (command === 'compute firewall list') {
  const firewalls = (await get('/firewalls?per_page=200'))['firewalls'] as { id: string; name: string; inbound_rules?: Rule[] }[];
  const rule = (r: Rule) => [`protocol:${r.protocol}`, `ports:${r.ports}`, ...(r.sources?.addresses ?? []).map((a) => `address:${a}`), ...(r.sources?.tags ?? []).map((t) => `tag:${t}`)].join(',');
  table(
    { ID: 'ID', Name: 'Name', InboundRules: 'Inbound Rules' },
    firewalls.map((f) => ({ ID: f.id, Name: f.name, InboundRules: (f.inbound_rules ?? []).map(rule).join(' ') })),
  );
} else {
  console.error(`doctl (quickstart test substitute): "doctl ${command}" is not substituted; implement it in test/docs/doctl-substitute.ts`);
  process.exit(2);
}
