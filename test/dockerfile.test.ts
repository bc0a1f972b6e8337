// The image the chart runs: its last stage holds nothing but node, dist/ and the production
// node_modules (no npm), and every process a chart workload starts is compiled into dist/.
// There is no Docker daemon in CI, so this reads the Dockerfile; the README says how its
// steps were run by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseManifests, renderChart, REPO_ROOT } from './chart/helm.ts';

interface Stage {
  from: string;
  name: string | undefined;
  instructions: string[];
}

function stages(dockerfile: string): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const list: Stage[] = [];
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from?.[1]) list.push({ from: from[1].replace(/^\$\{(\w+)\}$/, (_, a: string) => args[a] ?? a), name: from[2], instructions: [] });
    else if (list.length === 0 && /^ARG /.test(line)) {
      const [name, value = ''] = line.slice(4).split('=');
      args[name ?? ''] = value;
    } else list.at(-1)?.instructions.push(line);
  }
  return { args, stages: list };
}

const dockerfile = stages(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1) as Stage;

test('the runtime stage is plain Debian with only node, the production node_modules, dist/ and package.json', () => {
  assert.equal(runtime.from, 'debian:bookworm-slim');
  // the node image it takes the binary from is built on the same Debian release
  assert.match(dockerfile.args['NODE_IMAGE'] ?? '', /^node:24-bookworm-slim$/);
  assert.deepEqual(runtime.instructions.filter((i) => /^(RUN|ADD)\b/.test(i)), [], 'nothing is installed in the runtime stage');
  assert.deepEqual(runtime.instructions.filter((i) => i.startsWith('COPY')), [
    'COPY --from=build /usr/local/bin/node /usr/local/bin/node',
    'COPY --from=deps /app/node_modules ./node_modules',
    'COPY --from=build /src/dist ./dist',
    'COPY package.json ./',
  ]);
  const deps = dockerfile.stages.find((s) => s.name === 'deps');
  assert.ok(deps?.instructions.some((i) => /^RUN npm ci --omit=dev\b/.test(i)), 'node_modules without devDependencies');
  assert.ok(runtime.instructions.includes('USER 65532:65532'), 'the numeric user the chart runs as');
});

test('every process the chart starts is compiled into the image', () => {
  const build = dockerfile.stages.find((s) => s.name === 'build');
  const compile = build?.instructions.find((i) => i.includes('tsconfig.image.json') && i.startsWith('RUN')) ?? '';
  const files = (JSON.parse(/'(\{.*?\})'/.exec(compile)?.[1] ?? '{}') as { files?: string[] }).files ?? [];
  const objects = parseManifests(renderChart());
  const entries = objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
    .flatMap((o) => (o.spec.template.spec.containers as { command: string[] }[]).map((c) => c.command));
  // node, its flags (test/chart-footprint.test.ts), the entry point
  assert.ok(entries.every((c) => c[0] === 'node'), 'every container runs node');
  assert.deepEqual(entries.map((c) => c.at(-1)).sort(), ['dist/agent/main.js', 'dist/reconciler/main.js', 'dist/webhook/main.js']);
  for (const entry of entries) {
    const dir = /dist\/([^/]+)\//.exec(entry.at(-1) ?? '')?.[1] ?? '';
    assert.ok(files.includes(`${dir}/main.ts`), `${dir}/main.ts is not compiled (tsconfig.image.json files: ${files.join(', ')})`);
    assert.ok(build?.instructions.includes(`COPY ${dir} ./${dir}`), `${dir}/ is not copied into the build stage`);
  }
});

test('the image compiles the entry points and what they import: no test, fixture or fake, without any name glob', () => {
  const build = dockerfile.stages.find((s) => s.name === 'build');
  const compile = build?.instructions.find((i) => i.includes('tsconfig.image.json') && i.startsWith('RUN')) ?? '';
  const config = JSON.parse(/'(\{.*?\})'/.exec(compile)?.[1] ?? '{}') as { include?: string[]; exclude?: string[]; files?: string[] };
  assert.deepEqual([config.include, config.exclude], [[], undefined], 'nothing but the files and their imports');
  const dir = mkdtempSync(join(tmpdir(), 'floatip-image-'));
  try {
    const tsconfig = join(dir, 'tsconfig.json');
    writeFileSync(tsconfig, JSON.stringify({ extends: join(REPO_ROOT, 'tsconfig.json'), compilerOptions: { typeRoots: [join(REPO_ROOT, 'node_modules/@types')] }, include: [], files: (config.files ?? []).map((f) => join(REPO_ROOT, f)) }));
    const listed = execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--listFilesOnly'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.startsWith(REPO_ROOT) && !f.includes('/node_modules/'))
      .map((f) => relative(REPO_ROOT, f));
    assert.ok(listed.includes('reconciler/ip/controller.ts'), 'the reconciler is followed through its imports');
    assert.deepEqual(listed.filter((f) => f.startsWith('test/') || f.startsWith('bench/') || /\.test\.ts$|fixture|fake/.test(f)), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
