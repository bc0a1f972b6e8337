// Every object the lab makes lives in a network namespace named floatip-lab-<owner pid>-<lab>-<role>:
// its links, addresses, routes, nft tables and conntrack entries go with the namespace, and
// its processes are found with `ip netns pids`. So cleaning up is: kill the namespace's
// processes, delete the namespace. The sweeper does that for namespaces whose owner process
// is dead (a crashed or SIGKILLed lab) and never touches a namespace it did not name.
import { spawnSync } from 'node:child_process';

export const LAB_PREFIX = 'floatip-lab-';
const OWNED = /^floatip-lab-(\d+)-\d+-[a-z0-9-]+$/;

/** The owner pid of a lab namespace name, or undefined for any other name. */
export function ownerOf(name: string): number | undefined {
  const m = OWNED.exec(name);
  return m ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function listNamespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '') : [];
}

/** Kills the namespace's processes and deletes it (synchronous: usable in an exit handler). */
export function removeNamespace(name: string): void {
  if (ownerOf(name) === undefined) throw new Error(`refusing to remove ${name}: not a lab namespace`);
  for (let round = 0; round < 3; round++) {
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout?.split('\n').filter((p) => /^\d+$/.test(p)) ?? [];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

/** Removes the namespaces of labs whose owner process has died; returns their names. */
export function sweepDeadLabs(): string[] {
  const dead = listNamespaces().filter((n) => {
    const owner = ownerOf(n);
    return owner !== undefined && owner !== process.pid && !alive(owner);
  });
  for (const n of dead) removeNamespace(n);
  return dead;
}
