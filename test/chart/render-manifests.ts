// npm run manifests          renders deploy/helm/floatip into deploy/manifests
// npm run manifests -- --check   exits 1 (and writes nothing) when deploy/manifests is stale
// The chart is the one source of truth; deploy/manifests exists for `kubectl apply -k`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateHelm, renderChart, REPO_ROOT } from './helm.ts';
import { compareManifests, MANIFEST_VALUES, manifestFiles } from './manifests.ts';

const DIR = join(REPO_ROOT, 'deploy', 'manifests');
const check = process.argv.includes('--check');
const unknown = process.argv.slice(2).filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`render-manifests: unknown argument ${unknown[0]} (usage: npm run manifests [-- --check])`);
  process.exit(2);
}

// Writing builds helm when it is missing (a developer's first run); --check, as CI and the
// tests use it, never builds.
locateHelm({ build: !check });
const expected = manifestFiles(renderChart(MANIFEST_VALUES));
const actual = new Map(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => [f, readFileSync(join(DIR, f), 'utf8')] as const),
);
const { changed, extra } = compareManifests(expected, actual);

if (!check) for (const name of changed) writeFileSync(join(DIR, name), expected.get(name) ?? '');
const lines: string[] = [];
if (changed.length > 0) lines.push(`${check ? 'stale' : 'rendered'}: ${changed.map((n) => `deploy/manifests/${n}`).join(', ')}`);
// Never deleted: someone may be writing a manifest the chart has yet to learn.
if (extra.length > 0) {
  lines.push(`not produced by the chart: ${extra.map((n) => `deploy/manifests/${n}`).join(', ')} (port it into deploy/helm/floatip/templates, or delete it)`);
}
if (check && changed.length > 0) lines.push('deploy/manifests is rendered from deploy/helm/floatip: run `npm run manifests` and commit the result');
if (lines.length > 0) console.error(lines.join('\n'));
else console.log(`deploy/manifests is up to date (${expected.size} files)`);
process.exit((check && changed.length > 0) || extra.length > 0 ? 1 : 0);
