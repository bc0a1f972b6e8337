// The floatip node agent in e2e tests and the demo: the manifests from deploy/ applied to the
// test control plane (the DaemonSet's pods land on the kwok nodes), and one agent *process*
// per node, authenticated like a DaemonSet pod: a service-account token bound to that node's
// agent pod, so the API server adds the node's name to the token's user info (what the
// ValidatingAdmissionPolicy checks).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import type { ControlPlane } from './cluster/harness.ts';
import { kubeConfigFor, kubeConfigYaml } from './cluster/kubeconfig.ts';
import { collectOutput } from './child-output.ts';

export const AGENT_NS = 'floatip-agent';
export const AGENT_SA = 'floatip-agent';
export const AGENT_MAIN = fileURLToPath(new URL('../agent/main.ts', import.meta.url));

/** The emulator's metadata service of one droplet (the agent appends /metadata/v1/...). */
export const metadataUrlOf = (emulatorUrl: string, dropletId: number): string => `${emulatorUrl}/_metadata/${dropletId}`;

export async function applyAgentManifests(cp: ControlPlane): Promise<void> {
  await cp.applyManifests('deploy/manifests/agent.yaml');
  await cp.applyManifests('deploy/manifests/agent-policy.yaml');
}

/** The DaemonSet's pod on that node, once the scheduler has bound it there. */
export function agentPodOn(core: CoreV1Api, nodeName: string): Promise<V1Pod> {
  return waitFor(
    `the floatip-agent pod on ${nodeName}`,
    async () => (await core.listNamespacedPod({ namespace: AGENT_NS })).items.find((p) => p.spec?.nodeName === nodeName && !p.metadata?.deletionTimestamp),
    { timeoutMs: 30_000 },
  );
}

/** A token for the agent's service account bound to `pod`, as the kubelet projects it. */
export async function boundAgentToken(core: CoreV1Api, pod: V1Pod): Promise<string> {
  const response = await core.createNamespacedServiceAccountToken({
    namespace: AGENT_NS,
    name: AGENT_SA,
    body: {
      spec: {
        audiences: [],
        expirationSeconds: 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
      },
    },
  });
  const token = response.status?.token;
  if (!token) throw new Error(`TokenRequest bound to pod ${pod.metadata?.name} returned no token`);
  return token;
}

/** The agent's credentials on `nodeName`, as a client and as a kubeconfig document. */
export async function agentCredentials(cp: ControlPlane, nodeName: string): Promise<{ kubeConfig: KubeConfig; yaml: string }> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const token = await boundAgentToken(core, await agentPodOn(core, nodeName));
  return { kubeConfig: kubeConfigFor(cp.server, cp.caPem, { token }), yaml: kubeConfigYaml(cp.server, cp.caPem, { token }) };
}

export interface AgentProcess {
  readonly nodeName: string;
  /** parsed JSON log lines, in order */
  readonly lines: Record<string, unknown>[];
  /** plain stderr text (usage errors) */
  stderr(): string;
  /** resolves with the exit code */
  readonly exited: Promise<number | null>;
  /** null while the process runs */
  exitCode(): number | null;
  /** SIGTERM, then the exit code */
  stop(): Promise<number | null>;
}

/** `node agent/main.ts --node-name NAME --metadata-url URL`, KUBECONFIG from a temp file. */
export async function spawnAgent(opts: { nodeName: string; metadataUrl: string; kubeconfigYaml: string; args?: readonly string[] }): Promise<AgentProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'floatip-agent-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, opts.kubeconfigYaml, { mode: 0o600 });
  const child = spawn(process.execPath, [AGENT_MAIN, '--node-name', opts.nodeName, '--metadata-url', opts.metadataUrl, ...(opts.args ?? [])], {
    // several agents share this machine's network: none answers indirect liveness probes here
    // (the packet lab runs agents in their droplets' namespaces with the probe server on)
    env: { PATH: process.env['PATH'] ?? '', KUBECONFIG: kubeconfigPath, FLOATIP_LIVENESS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { lines, stderr, exited } = collectOutput(child);
  void exited.then(() => rm(dir, { recursive: true, force: true }));
  return {
    nodeName: opts.nodeName,
    lines,
    stderr,
    exited,
    exitCode: () => child.exitCode ?? (child.signalCode === null ? null : -1),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** An agent process per node, each with a token bound to the DaemonSet pod on its node. */
export async function startAgents(
  cp: ControlPlane,
  emulatorUrl: string,
  nodes: readonly { name: string; dropletId: number }[],
): Promise<AgentProcess[]> {
  return Promise.all(
    nodes.map(async (n) =>
      spawnAgent({ nodeName: n.name, metadataUrl: metadataUrlOf(emulatorUrl, n.dropletId), kubeconfigYaml: (await agentCredentials(cp, n.name)).yaml }),
    ),
  );
}
