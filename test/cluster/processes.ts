// Child processes of the control plane. Each runs in its own process group (detached) with
// stdout+stderr in a log file, so teardown can kill the whole group and a failed start can
// show the last lines. Every live process is also killed when the test process exits or is
// interrupted, so a crashed test never leaves an etcd behind.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Component {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** resolves with the exit code (or signal) once the process has exited */
  readonly exited: Promise<string>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it has exited */
  stop(graceMs?: number): Promise<void>;
  /** last lines of the log, for error messages */
  tail(lines?: number): string;
}

const live = new Set<Component>();
const children = new Set<ChildProcess>();
const dirsToRemove = new Set<string>();

/** Kills `child` (SIGKILL) if this process exits or is interrupted while it still runs. */
export function killOnExit(child: ChildProcess): void {
  installExitHooks();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Deletes `dir` when the process exits, unless forgetDir() was called (after a clean stop). */
export function removeOnExit(dir: string): void {
  installExitHooks();
  dirsToRemove.add(dir);
}
export function forgetDir(dir: string): void {
  dirsToRemove.delete(dir);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // negative pid: the whole process group
  } catch {
    // already gone
  }
}

let exitHooksInstalled = false;
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that is certain to work.
  const cleanUp = () => {
    for (const c of live) killGroup(c.child, 'SIGKILL');
    for (const c of children) c.kill('SIGKILL');
    for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUp();
      process.kill(process.pid, signal); // re-raise: default handling after cleanup
    });
  }
}

export function tailFile(path: string, lines = 30): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export function startComponent(opts: {
  name: string;
  binary: string;
  args: readonly string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): Component {
  installExitHooks();
  const fd = openSync(opts.logPath, 'a');
  const child = spawn(opts.binary, opts.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(fd); // the child holds its own copy
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
    child.once('error', (err) => resolve(`spawn failed: ${err.message}`));
  });
  // Do not keep the test process alive just because a component still runs.
  child.unref();
  const component: Component = {
    name: opts.name,
    logPath: opts.logPath,
    child,
    exited,
    async stop(graceMs = 5_000) {
      child.ref(); // keep the event loop alive until the exit event arrives
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      live.delete(component);
    },
    tail: (lines) => tailFile(opts.logPath, lines),
  };
  live.add(component);
  void exited.then(() => live.delete(component));
  return component;
}

/** A loopback port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns true; fails early with the component's log tail when the
 * component exits first, because waiting out a timeout for a dead process only hides why.
 */
export async function waitUntilUp(
  component: Component,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: string | undefined;
  void component.exited.then((how) => (dead = how));
  for (;;) {
    if (dead !== undefined) {
      throw new Error(`${component.name} exited (${dead}) during start-up; last log lines:\n${component.tail()}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`${component.name} not up after ${timeoutMs} ms; last log lines:\n${component.tail()}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
