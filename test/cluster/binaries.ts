// Finds the Kubernetes test binaries. build-binaries.sh owns the policy (env overrides,
// versioned cache dir, building on a miss) and prints the directory on its last stdout line;
// when everything is cached it returns in milliseconds, so the harness always asks it.
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BINARY_NAMES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd', 'kwok'] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];
export type Binaries = Readonly<Record<BinaryName, string>>;

const script = fileURLToPath(new URL('./build-binaries.sh', import.meta.url));

function missingIn(dir: string): BinaryName[] {
  return BINARY_NAMES.filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

let cached: Promise<Binaries> | undefined;

/** True when every binary is already there, so nothing would be built (the script decides). */
export function binariesAvailable(): boolean {
  return spawnSync('bash', [script, '--check'], { stdio: 'ignore' }).status === 0;
}

/** Runs build-binaries.sh once per process (a no-op when cached) and returns the paths. */
export function locateBinaries(): Promise<Binaries> {
  cached ??= new Promise<Binaries>((resolve, reject) => {
    // A cold build takes many minutes; the script logs progress on stderr, which we pass on.
    const child = execFile('bash', [script], { maxBuffer: 1 << 20, timeout: 60 * 60_000 }, (err, stdout, stderr) => {
      const dir = stdout.trim().split('\n').at(-1) ?? '';
      if (err || dir === '') {
        reject(
          new Error(
            `Kubernetes test binaries are not available: ${script} failed (${err?.message ?? 'no output'}).\n` +
              `Build them with \`npm run cluster:binaries\` (needs Go), or point FLOATIP_K8S_BIN or ` +
              `KUBEBUILDER_ASSETS at a directory holding ${BINARY_NAMES.join(', ')}.\n${stderr.trim()}`,
          ),
        );
        return;
      }
      const missing = missingIn(dir);
      if (missing.length > 0) {
        reject(new Error(`Kubernetes test binaries missing in ${dir}: ${missing.join(', ')}`));
        return;
      }
      resolve(Object.fromEntries(BINARY_NAMES.map((n) => [n, join(dir, n)])) as Binaries);
    });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  });
  return cached;
}
