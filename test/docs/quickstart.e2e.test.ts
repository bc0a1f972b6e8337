// docs/quickstart.md, run as a newcomer would type it: every block marked
// `<!-- quickstart-test: NAME -->` runs in bash (-euo pipefail), in order, with real kubectl
// (built from the same Kubernetes release as the control plane) and real helm, against the
// local world: a real kube-apiserver, controller-manager and scheduler with three
// kwok nodes shaped like DOKS workers, and the DigitalOcean emulator. A block fails the test
// when any of its commands fails; `expect-failure` blocks must fail.
//
// Substituted, because they need DigitalOcean's real registry or a real cluster (SUBSTITUTIONS
// below is printed with the results):
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from '../cluster/harness.ts';
import type { ControlPlane } from '../cluster/harness.ts';
import { freePort } from '../cluster/processes.ts';
import { startEmulator } from '../do-emulator/server.ts';
import type { RunningEmulator } from '../do-emulator/server.ts';
import { locateHelm, parseManifests, runHelm } from '../chart/helm.ts';
import type { Manifest } from '../chart/helm.ts';
import { mountedSecretFiles, runAsPod } from '../chart/install.ts';
import type { ChartProcess } from '../chart/install.ts';
import { FIELD_VALUES, runnable } from '../chart/workloads.ts';
import type { RunnableContainer } from '../chart/workloads.ts';
import { agentCredentials, metadataUrlOf } from '../agent-fixture.ts';
import { emulatorAdmin, nodeOf } from '../reconciler-fixture.ts';
import { PLACEHOLDER_FIX } from '../../shared/addresses.ts';
import { markedBlocks, readRepoFile, REPO_ROOT } from './markdown.ts';
import type { MarkedBlock } from './markdown.ts';

export const SUBSTITUTIONS: readonly string[] = [
  'docker: records its arguments and checks `--platform linux/amd64` and `--push` (no Docker daemon, no registry)',
  'doctl registry login / doctl kubernetes cluster registry add: recorded, no-op (the registry integration needs DigitalOcean)',
  'doctl (everything else): test/docs/doctl-substitute.ts answers the quickstart\'s doctl reads from the emulator\'s /v2 API, in doctl\'s output format (doctl is not on the Go module proxy here); FLOATIP_DOCTL=<a real doctl> uses that instead, with --api-url at the emulator',
  "the pods' processes: kwok runs the pods, so the webhook, the reconciler and one agent per node run on the test machine with the command lines, environment and mounted files helm rendered, as the chart's service accounts",
  'the webhook configurations call the webhook by a loopback URL instead of its Service (no Service network without a real cluster)',
  'the reconciler reaches DigitalOcean at the emulator (DIGITALOCEAN_API_URL), each agent reads its droplet\'s metadata from the emulator',
  'nc -u: test/docs/nc-substitute.ts follows the path a datagram would take (holder → a cloud firewall on its tags admitting the port → node anchor → Service externalIPs and UDP port → Ready pod there) and answers "hostname" as agnhost would; no packet travels',
  '`kubectl apply -k floatip-kustomize` (the alternative to helm install): checked with --dry-run=server, without the two webhook configurations, since helm installed already',
  'the variables of "Set these once": a test cluster name and registry, reserved IP 104.248.100.100 of the emulator, the emulator\'s token',
];

const NS = 'floatip-system';
const AGENT_NS = 'floatip-agent';
const RESERVED_IP = '104.248.100.100';
const TOKEN = 'quickstart-e2e-token';
const DROPLETS = [1001, 1002, 1003];
/** the order of the quickstart's marked blocks: a removed or renamed marker fails the test */
const STEPS = ['image', 'secret', 'install', 'kustomize', 'policy', 'placeholder', 'example', 'check', 'failover'];

function buildTool(script: string, ...args: string[]): string {
  const r = spawnSync('bash', [join(REPO_ROOT, 'test/cluster', script), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 60 * 60_000 });
  const out = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || out === '') throw new Error(`${script} ${args.join(' ')} failed (exit ${r.status})`);
  return out;
}

/** The shims and tools the blocks find first on PATH. */
async function binDir(dir: string, tools: { kubectl: string; helm: string; doctl: string | undefined }, emulatorUrl: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await symlink(tools.kubectl, join(bin, 'kubectl'));
  await symlink(tools.helm, join(bin, 'helm'));
  const script = (name: string, text: string) => writeFile(join(bin, name), `#!/usr/bin/env bash\nset -euo pipefail\n${text}\n`).then(() => chmod(join(bin, name), 0o755));
  await script(
    'docker',
    `echo "docker $*" >> "${join(dir, 'substituted.log')}"
[[ " $* " == *" --platform linux/amd64 "* ]] || { echo "docker (substitute): build for --platform linux/amd64, the DOKS nodes' platform" >&2; exit 1; }
[[ " $* " == *" --push "* ]] || { echo "docker (substitute): the image must be pushed (--push)" >&2; exit 1; }`,
  );
  await script(
    'doctl',
    `case "$*" in
  "registry login"*|"kubernetes cluster registry add"*) echo "doctl $*" >> "${join(dir, 'substituted.log')}"; exit 0 ;;
esac
exec ${tools.doctl ? `"${tools.doctl}"` : `"${process.execPath}" "${join(REPO_ROOT, 'test/docs/doctl-substitute.ts')}"`} --api-url "${emulatorUrl}" --access-token "${TOKEN}" "$@"`,
  );
  await script('nc', `exec "${process.execPath}" "${join(REPO_ROOT, 'test/docs/nc-substitute.ts')}" "$@"`);
  return bin;
}

interface BlockRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function runBlock(block: MarkedBlock, opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<BlockRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', block.code], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/**
 * The container's ConfigMap volumes as the kubelet would mount them, written under `dir`, and
 * the flags that name a mounted path re-pointed there (`--flag=/mounted/path` → the copy).
 */
async function mountConfigMaps(core: CoreV1Api, r: RunnableContainer, namespace: string, dir: string): Promise<string[]> {
  const copies = new Map<string, string>();
  for (const mount of r.container.volumeMounts ?? []) {
    const source = r.pod.volumes?.find((v) => v.name === mount.name)?.configMap;
    if (!source?.name) continue;
    const data = (await core.readNamespacedConfigMap({ namespace, name: source.name })).data ?? {};
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of items) {
      const copy = join(dir, `${r.container.name}-${source.name}-${path}`);
      await writeFile(copy, data[key] ?? '');
      copies.set(`${mount.mountPath}/${path}`, copy);
    }
  }
  return r.args.flatMap((arg) => {
    const [flag, value] = arg.split('=', 2);
    const copy = value === undefined ? undefined : copies.get(value);
    return copy ? [`${flag}=${copy}`] : [];
  });
}

/** Prints a process's stderr when it exits early: a failing wait then has its cause next to it. */
function reportExit(name: string, p: ChartProcess): ChartProcess {
  void p.exited.then((code) => {
    if (code !== null && code !== 0) console.error(`# ${name} exited ${code}: ${p.stderr()}`);
  });
  return p;
}

/** Points both webhook configurations (as helm installed them) at the webhook's loopback URL. */
async function callWebhookByUrl(cp: ControlPlane, url: string): Promise<void> {
  const api = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const repoint = <T extends V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration>(config: T): T => {
    for (const hook of config.webhooks ?? []) hook.clientConfig = { url: `${url}${hook.clientConfig.service?.path ?? ''}`, caBundle: hook.clientConfig.caBundle };
    return config;
  };
  await api.replaceMutatingWebhookConfiguration({ name: 'floatip', body: repoint(await api.readMutatingWebhookConfiguration({ name: 'floatip' })) });
  await api.replaceValidatingWebhookConfiguration({ name: 'floatip', body: repoint(await api.readValidatingWebhookConfiguration({ name: 'floatip' })) });
}

describe('docs/quickstart.md, block by block, against the local control plane and the DigitalOcean emulator', () => {
  let cp: ControlPlane;
  let emulator: RunningEmulator;
  let work: string;
  let env: Record<string, string>;
  const processes: ChartProcess[] = [];
  const blocks = markedBlocks(readRepoFile('docs/quickstart.md'));
  const results = new Map<string, BlockRun>();

  before(async () => {
    // kubectl is built once into the cache like the other binaries (minutes, cold); FLOATIP_KUBECTL uses another as-is
    const kubectl = process.env['FLOATIP_KUBECTL'] ?? join(buildTool('build-binaries.sh', 'kubectl'), 'kubectl');
    const tools = { kubectl, helm: locateHelm({ build: true }), doctl: process.env['FLOATIP_DOCTL'] };
    [cp, emulator] = await Promise.all([startControlPlane(), startEmulator({ token: TOKEN, actionDelayMs: 300 })]);
    await Promise.all(DROPLETS.map((id) => cp.addNode(nodeOf(id), { dropletId: id })));
    work = await mkdtemp(join(tmpdir(), 'floatip-quickstart-'));
    // the blocks run at the repository root: the paths they name, nothing else of the checkout
    for (const entry of ['deploy', 'Dockerfile']) await symlink(join(REPO_ROOT, entry), join(work, entry));
    const bin = await binDir(work, tools, emulator.url);
    await mkdir(join(work, 'home'));
    env = {
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      HOME: join(work, 'home'),
      KUBECONFIG: cp.kubeconfigPath,
      CLUSTER: 'floatip-quickstart',
      REGISTRY: 'registry.digitalocean.com/floatip-test',
      RESERVED_IP,
      DIGITALOCEAN_TOKEN: TOKEN,
      FLOATIP_TEST_EMULATOR_URL: emulator.url,
    };
  });
  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await emulator?.close();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`# substituted in docs/quickstart.md:\n${SUBSTITUTIONS.map((s) => `#   - ${s}`).join('\n')}`);
    console.log(`# block runtimes (ms): ${[...results].map(([name, r]) => `${name} ${r.ms}`).join(', ')}`);
  });

  test('the marked blocks are the expected steps, and "Set these once" sets exactly the variables the test provides', () => {
    assert.deepEqual(blocks.map((b) => b.name), STEPS);
    const setOnce = /```sh\n((?:export [A-Z_]+=.*\n)+)```/.exec(readRepoFile('docs/quickstart.md'))?.[1] ?? '';
    const names = [...setOnce.matchAll(/^export ([A-Z_]+)=/gm)].map((m) => m[1]);
    assert.deepEqual(names, ['CLUSTER', 'REGISTRY', 'RESERVED_IP', 'DIGITALOCEAN_TOKEN']);
    for (const name of names) assert.ok(env[name ?? ''], `the test sets ${name}`);
  });

  for (const step of STEPS) {
    test(`block "${step}"`, async () => {
      const block = blocks.find((b) => b.name === step);
      assert.ok(block, `docs/quickstart.md has no block marked "${step}"`);
      const run = await runBlock(block, { cwd: work, env, timeoutMs: 120_000 });
      results.set(step, run);
      if (process.env['FLOATIP_QUICKSTART_VERBOSE']) console.log(`# ${step}:\n${run.stdout}${run.stderr}`);
      const output = `\n--- docs/quickstart.md:${block.line} "${step}" exited ${run.code}\n--- stdout:\n${run.stdout}\n--- stderr:\n${run.stderr}`;
      if (block.flags.includes('expect-failure')) assert.notEqual(run.code, 0, `expected to fail${output}`);
      else assert.equal(run.code, 0, output);
      await AFTER[step]?.(run);
    });
  }

  /** What the test does between blocks (in the cluster, the kubelet and the network would), and what it checks. */
  const AFTER: Record<string, (run: BlockRun) => Promise<void>> = {
    image: async () => {
      const log = await readFile(join(work, 'substituted.log'), 'utf8');
      assert.match(log, /^docker buildx build --platform linux\/amd64 -t registry\.digitalocean\.com\/floatip-test\/floatip:0\.1\.0 --push \.$/m);
      assert.match(log, /^doctl kubernetes cluster registry add floatip-quickstart$/m);
    },
    install: async () => {
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const manifest = runHelm(['get', 'manifest', 'floatip', '-n', NS], { env: { KUBECONFIG: cp.kubeconfigPath, HOME: env['HOME'] ?? '' } });
      assert.equal(manifest.status, 0, manifest.stderr);
      const objects: Manifest[] = parseManifests(manifest.stdout);
      // what the values file asked for
      const w = runnable(objects, 'Deployment', 'floatip-webhook');
      assert.equal(w.container.image, 'registry.digitalocean.com/floatip-test/floatip:0.1.0');
      assert.deepEqual(w.pod.imagePullSecrets, [{ name: 'registry-floatip-test' }]);
      assert.deepEqual(runnable(objects, 'DaemonSet', 'floatip-agent').pod.imagePullSecrets, [{ name: 'registry-floatip-test' }]);

      const [webhookPort, healthPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
      const webhookUrl = `https://localhost:${webhookPort}`;
      await callWebhookByUrl(cp, webhookUrl);
      const loopback = ['--bind-address=127.0.0.1'];
      const webhookMounts = await mountConfigMaps(core, w, NS, work);
      const webhook = reportExit('webhook', await runAsPod(cp, w, { namespace: NS, overrides: [...loopback, `--port=${webhookPort}`, '--service=localhost', ...webhookMounts] }));
      processes.push(webhook);
      const r = runnable(objects, 'Deployment', 'floatip-reconciler');
      const reconcilerMounts = await mountConfigMaps(core, r, NS, work);
      assert.ok(reconcilerMounts.some((a) => a.startsWith('--ip-policy-file=')) && webhookMounts.some((a) => a.startsWith('--ip-policy-file=')), `the IP policy reaches both: ${r.args.join(' ')}`);
      const reconciler = reportExit(
        'reconciler',
        await runAsPod(cp, r, {
          namespace: NS,
          overrides: [...loopback, `--health-port=${healthPort}`, `--metrics-port=${metricsPort}`, ...reconcilerMounts],
          files: await mountedSecretFiles(cp, r, NS),
          env: { DIGITALOCEAN_API_URL: emulator.url },
        }),
      );
      processes.push(reconciler);
      for (const id of DROPLETS) {
        const a = runnable(objects, 'DaemonSet', 'floatip-agent', { ...FIELD_VALUES, 'spec.nodeName': nodeOf(id) });
        const credentials = await agentCredentials(cp, nodeOf(id));
        processes.push(reportExit(`agent on ${nodeOf(id)}`, await runAsPod(cp, a, { namespace: AGENT_NS, overrides: [`--metadata-url=${metadataUrlOf(emulator.url, id)}`], kubeconfigYaml: credentials.yaml })));
      }
      await waitFor('the webhook to patch its CA into both configurations', async () => {
        const api = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
        const hooks = [...((await api.readMutatingWebhookConfiguration({ name: 'floatip' })).webhooks ?? []), ...((await api.readValidatingWebhookConfiguration({ name: 'floatip' })).webhooks ?? [])];
        return hooks.every((h) => (h.clientConfig.caBundle ?? '') !== '');
      }, { timeoutMs: 60_000 });
      await waitFor('the reconciler to lead', async () => reconciler.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 60_000 });
      await waitFor('every node to carry its anchor', async () => (await core.listNode()).items.every((n) => n.metadata?.annotations?.['k8s.haim.dev/anchor-ipv4']), { timeoutMs: 60_000 });
    },
    policy: async (run) => {
      assert.match(run.stdout, /^namespace\/other created$/m, 'the first command succeeded');
      const denial = `Pod other/probe: annotation k8s.haim.dev/floating-ip: reserved IP ${RESERVED_IP} may not be claimed in namespace other (floatip IP policy allows here: none)`;
      assert.ok(run.stderr.includes(denial), run.stderr);
      assert.ok(readRepoFile('docs/quickstart.md').includes(denial.replace(RESERVED_IP, '<your reserved IP>')), 'the quickstart shows that denial');
    },
    kustomize: async () => {
      // the page says `kubectl apply -k floatip-kustomize` instead of helm install: helm installed
      // already, so the API server checks the rendering without applying it (a substitution);
      // the webhook configurations are left out, since this test points them at a loopback URL
      const rendered = spawnSync(env['PATH']?.split(':')[0] + '/kubectl', ['kustomize', 'floatip-kustomize'], { cwd: work, env, encoding: 'utf8' });
      assert.equal(rendered.status, 0, rendered.stderr);
      const kept = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Manifest).filter((o) => !o.kind.endsWith('WebhookConfiguration'));
      const apply = spawnSync(env['PATH']?.split(':')[0] + '/kubectl', ['apply', '--dry-run=server', '-f', '-'], { cwd: work, env, encoding: 'utf8', input: kept.map((o) => JSON.stringify(o)).join('\n') });
      assert.equal(apply.status, 0, apply.stderr);
      assert.match(apply.stdout, /daemonset\.apps\/floatip-agent .*\(server dry run\)/);
    },
    placeholder: async (run) => {
      assert.ok(run.stderr.includes(`"203.0.113.10" is a documentation address (203.0.113.0/24, RFC 5737): ${PLACEHOLDER_FIX}`), run.stderr);
      // the denial the quickstart shows is the one the webhook gives
      assert.ok(readRepoFile('docs/quickstart.md').includes(run.stderr.trim().replace(/^Error from server \(Forbidden\): error when creating "deploy\/examples\/udp-echo.yaml": /, '')), run.stderr);
    },
    example: async (run) => {
      assert.match(run.stdout, new RegExp(`udp-echo\\s+LoadBalancer\\s+\\S+\\s+${RESERVED_IP.replaceAll('.', '\\.')},10\\.20\\.\\d+\\.\\d+\\s+7777/UDP,8080/TCP`), run.stdout);
    },
    check: async (run) => {
      assert.match(run.stdout, /floatip-c0ffee00-0000-4000-8000-000000000001\s+.*protocol:udp,ports:7777/, run.stdout);
      assert.match(run.stdout, /FloatingIPAssigned/, run.stdout);
      assert.match(run.stdout, /^udp-echo-[a-z0-9]+-[a-z0-9]+$/m, 'nc printed the holder pod\'s name');
    },
    failover: async (run) => {
      const before = /^udp-echo-[a-z0-9]+-[a-z0-9]+$/m.exec(results.get('check')?.stdout ?? '')?.[0];
      const afterName = /^udp-echo-[a-z0-9]+-[a-z0-9]+$/m.exec(run.stdout)?.[0];
      assert.ok(before && afterName && before !== afterName, `the IP's pod changed: ${before} → ${afterName}`);
      const holder = await emulatorAdmin(emulator.url).holder(RESERVED_IP);
      assert.ok(typeof holder === 'number', 'the IP sits on a droplet');
      // kubectl get svc: the reserved IP, then the new holder's anchor instead of the old one
      const anchorIn = (out: string | undefined) => new RegExp(`${RESERVED_IP.replaceAll('.', '\\.')},(10\\.20\\.\\d+\\.\\d+)`).exec(out ?? '')?.[1];
      const [was, now] = [anchorIn(results.get('example')?.stdout), anchorIn(run.stdout)];
      assert.ok(was && now && was !== now, `EXTERNAL-IP's anchor moved: ${was} → ${now}`);
    },
  };
});
