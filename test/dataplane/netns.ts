// Network namespaces, links and nft from TypeScript: thin wrappers over iproute2, nft and
// conntrack (Debian's iproute2, nftables and conntrack packages), plus processes started
// inside a namespace (`ip netns exec` execs the binary, so the process keeps its own name).
import { execFile, spawnSync } from 'node:child_process';
import { startComponent } from '../cluster/processes.ts';
import type { Component } from '../cluster/processes.ts';

export class CommandError extends Error {
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.stderr = stderr;
  }
}

/** Runs a command; resolves with stdout, rejects with the command line and its stderr. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 16 << 20, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`, stderr));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const inNs = (ns: string, cmd: string, args: readonly string[], input?: string): Promise<string> =>
  run('ip', ['netns', 'exec', ns, cmd, ...args], input);

/** `ip` inside a namespace; `lines` run as one batch (`ip -batch -`), failing on the first error. */
export async function ip(ns: string, ...lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await run('ip', ['-n', ns, '-batch', '-'], lines.join('\n') + '\n');
}

/** Loads an nft script in the namespace as one transaction. */
export const nft = (ns: string, script: string): Promise<string> => inNs(ns, 'nft', ['-f', '-'], script);

export const sysctl = (ns: string, ...settings: string[]): Promise<string> => inNs(ns, 'sysctl', ['-q', '-w', ...settings]);

/** A long-running process inside `ns` (own process group, log file; killed when the test process exits). */
export function spawnIn(ns: string, opts: { name: string; binary: string; args: readonly string[]; logPath: string; env?: NodeJS.ProcessEnv }): Component {
  return startComponent({ name: opts.name, binary: 'ip', args: ['netns', 'exec', ns, opts.binary, ...opts.args], logPath: opts.logPath, env: opts.env });
}

/** The tools the lab runs that Debian's packages provide; a missing one is named with its package. */
export function missingTools(): string | undefined {
  for (const [tool, pkg] of [['ip', 'iproute2'], ['nft', 'nftables'], ['conntrack', 'conntrack'], ['socat', 'socat']] as const) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `it needs ${tool} (apt-get install -y ${pkg})`;
  }
  return undefined;
}

/** Why network namespaces cannot be made here (not root, or a kernel that refuses), or undefined. */
export function netnsRefused(): string | undefined {
  if (process.getuid?.() !== 0) return 'it needs root to make network namespaces';
  const probe = `floatip-lab-probe-${process.pid}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.error) return undefined; // no `ip` at all: missingTools() says so
  if (made.status !== 0) return `the kernel refuses network namespaces (ip netns add: ${made.stderr.trim()})`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** Whether the lab can run here at all (the demo's question): namespaces, then tools. */
export function netnsUnavailable(): string | undefined {
  return netnsRefused() ?? missingTools();
}
