// Runs the helm CLI on floatip's chart. build-helm.sh owns where helm lives (FLOATIP_HELM, or
// its versioned cache dir); tests only ask it with --check and never build: CI builds helm
// first (.ci/run), and a developer runs `npm run helm:build` once.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = fileURLToPath(new URL('../../deploy/helm/floatip', import.meta.url));
/** The namespace the docs install into (the Lease floatip-system/floatip-reconciler is a contract). */
export const RELEASE_NAMESPACE = 'floatip-system';
const BUILD_SCRIPT = fileURLToPath(new URL('../cluster/build-helm.sh', import.meta.url));

export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

let cachedPath: string | undefined;

/** The helm binary; throws a sentence saying how to build it when it is not there. */
export function locateHelm(opts: { build?: boolean } = {}): string {
  if (cachedPath !== undefined) return cachedPath;
  const args = opts.build ? [BUILD_SCRIPT] : [BUILD_SCRIPT, '--check'];
  // Building prints progress on stderr, which the person waiting should see.
  const r = spawnSync('bash', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', opts.build ? 'inherit' : 'pipe'] });
  const path = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || path === '') {
    throw new Error(
      `helm is not available (${(r.stderr ?? '').trim() || `build-helm.sh exited ${r.status}`}). ` +
        'Build it once with `npm run helm:build` (needs Go; helm is built from the Go module proxy into the cache), ' +
        'or point FLOATIP_HELM at a helm v3 binary.',
    );
  }
  cachedPath = path;
  return path;
}

/** `env` is added to the environment (e.g. KUBECONFIG and HELM_*_HOME for a test cluster). */
export function runHelm(args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): HelmResult {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const r = spawnSync(locateHelm(), args, { encoding: 'utf8', input: opts.input, env, maxBuffer: 16 << 20, timeout: 60_000 });
  if (r.error) throw new Error(`helm ${args[0]} could not run: ${r.error.message}`);
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `helm template` of the chart with `values` (given as a values file on stdin, so nested
 * objects and lists need no --set escaping). Throws helm's own message when it fails.
 */
export function renderChart(values: Record<string, unknown> = {}, opts: { namespace?: string } = {}): string {
  const r = runHelm(['template', 'floatip', CHART_DIR, '--namespace', opts.namespace ?? RELEASE_NAMESPACE, '--values', '-'], {
    input: JSON.stringify(values),
  });
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML
export type Manifest = { kind: string; apiVersion: string; metadata: { name: string; namespace?: string; [k: string]: any }; [k: string]: any };

/** The documents of a rendering, in helm's order; a YAML error names the document. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text).flatMap((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`rendered document ${i + 1}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as Manifest | null;
    return obj ? [obj] : [];
  });
}

export const findManifest = (objects: readonly Manifest[], kind: string, name: string): Manifest => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`the rendering has no ${kind} ${name} (it has: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')})`);
  return found;
};
