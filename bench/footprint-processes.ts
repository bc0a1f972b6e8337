// The footprint benchmark's processes: the BUILT entry points (dist/, as the image runs
// them), each with the node flags the chart gives its container, and their memory read
// from /proc/<pid>/status — the numbers a node's kubelet and `kubectl top` see, not V8's.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { collectOutput } from '../test/child-output.ts';
import { killOnExit } from '../test/cluster/processes.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const VALUES_FILE = new URL('../deploy/helm/floatip/values.yaml', import.meta.url);

export type Component = 'agent' | 'webhook' | 'reconciler';

export interface Memory {
  /** VmRSS: everything resident, the binary's shared pages included */
  readonly rssMiB: number;
  /** RssAnon: the process's own memory (heap, stacks, malloc) */
  readonly anonMiB: number;
}

const KIB_PER_MIB = 1024;

/** VmRSS and RssAnon of a running process. */
export function processMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`benchmark: /proc/${pid}/status has no ${field}`);
    return Number(m[1]) / KIB_PER_MIB;
  };
  return { rssMiB: kib('VmRSS'), anonMiB: kib('RssAnon') };
}

interface ComponentValues {
  readonly nodeFlags?: string;
  readonly resources?: { readonly requests?: { readonly memory?: string }; readonly limits?: { readonly memory?: string } };
}

/** The chart's values of the three processes (deploy/helm/floatip/values.yaml). */
export function chartValues(): Record<Component, ComponentValues> {
  const values = parse(readFileSync(VALUES_FILE, 'utf8')) as Record<string, ComponentValues | undefined>;
  return { agent: values['agent'] ?? {}, webhook: values['webhook'] ?? {}, reconciler: values['reconciler'] ?? {} };
}

/** Mi/Gi quantity → MiB */
export function mebibytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`benchmark: memory quantity "${quantity}" is not in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/** npm run build: the benchmark measures what the image runs, compiled from this tree. */
export function buildDist(): void {
  execFileSync(process.execPath, [`${REPO}node_modules/typescript/bin/tsc`, '-p', `${REPO}tsconfig.json`], { cwd: REPO, stdio: 'inherit' });
}

export interface Measured {
  readonly name: string;
  readonly component: Component;
  readonly pid: number;
  /** after start-up has settled */
  startup?: Memory;
  /** after the work of the world (reviews, a failover, a resync, agent re-checks) */
  work?: Memory;
}

export interface RunningProcess extends Measured {
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  exitCode(): number | null;
  /** the first log line `match` accepts, waiting for it; rejects if the process exits first */
  line(what: string, match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  measure(phase: 'startup' | 'work'): Memory;
  stop(): Promise<void>;
}

/** The chart's node flags of a component, as arguments. */
export const nodeFlags = (component: Component): string[] => (chartValues()[component].nodeFlags ?? '').split(' ').filter(Boolean);

/** `node [chart node flags] dist/<component>/main.js args` (or another `entry`) with only `env` (and PATH) set. */
export function startProcess(name: string, component: Component, args: readonly string[], env: Record<string, string>, entry = `${REPO}dist/${component}/main.js`): RunningProcess {
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags(component), entry, ...args], {
    cwd: REPO,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // an interrupted benchmark leaves no webhook, reconciler or agent behind
  killOnExit(child);
  const { lines, stderr, exited } = collectOutput(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`benchmark: ${name} did not start`);
  const self: RunningProcess = {
    name,
    component,
    pid,
    lines,
    stderr,
    exitCode: () => child.exitCode ?? (child.signalCode === null ? null : -1),
    async line(what, match, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        if (self.exitCode() !== null) throw new Error(`benchmark: ${name} exited (${self.exitCode()}) before ${what}: ${stderr().slice(-800)} ${JSON.stringify(lines.slice(-5))}`);
        if (Date.now() > deadline) throw new Error(`benchmark: ${name}: no ${what} within ${timeoutMs / 1000} s: ${JSON.stringify(lines.slice(-5))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    measure(phase) {
      const m = processMemory(pid);
      self[phase] = m;
      return m;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return self;
}

/** The larger of a process's two readings. */
export const peak = (p: Measured): Memory => ({
  rssMiB: Math.max(p.startup?.rssMiB ?? 0, p.work?.rssMiB ?? 0),
  anonMiB: Math.max(p.startup?.anonMiB ?? 0, p.work?.anonMiB ?? 0),
});
