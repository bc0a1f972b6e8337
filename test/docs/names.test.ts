// Every name README.md and docs/*.md give a reader to type or search for exists: flags (from
// the processes' own --help), metrics (from the product code's metric definitions, the
// registries' sources), Event reasons (string literals of the product code), alerts (the
// chart's PrometheusRule, each with its runbook section) and chart values (values.schema.json).
// A documented name that disappears, or a typo in one, fails here with file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { inlineCode, readRepoFile, REPO_ROOT, splitFences } from './markdown.ts';

const DOCS = ['README.md', ...globSync('docs/*.md', { cwd: REPO_ROOT }).sort()];
const PRODUCT_SOURCES = ['agent', 'reconciler', 'shared', 'webhook']
  .flatMap((dir) => globSync(`${dir}/**/*.ts`, { cwd: REPO_ROOT }))
  .filter((f) => !f.endsWith('.test.ts'))
  .map((f) => readFileSync(`${REPO_ROOT}${f}`, 'utf8'))
  .join('\n');

/** Flags of other programs the docs show (helm, kubectl, docker, doctl, npm, node, Kubernetes' own components). */
const OTHER_PROGRAMS_FLAGS: Readonly<Record<string, string>> = {
  '--set': 'helm',
  '--set-string': 'helm',
  '--set-file': 'helm',
  '--set-json': 'helm',
  '--values': 'helm',
  '--reuse-values': 'helm (named to say why not to use it)',
  '--reset-then-reuse-values': 'helm',
  '--create-namespace': 'helm',
  '--wait': 'helm',
  '--from-literal': 'kubectl',
  '--from-file': 'kubectl',
  '--overwrite': 'kubectl',
  '--all': 'kubectl',
  '--ignore-daemonsets': 'kubectl',
  '--delete-emptydir-data': 'kubectl',
  '--field-selector': 'kubectl',
  '--annotations': 'kubectl run',
  '--for': 'kubectl',
  '--timeout': 'kubectl',
  '--replicas': 'kubectl',
  '--image': 'kubectl debug',
  '--kubeconfig': 'kubectl (also a flag of floatip)',
  '--platform': 'docker',
  '--push': 'docker',
  '--region': 'doctl',
  '--format': 'doctl',
  '--no-header': 'doctl',
  '--read-write': 'doctl',
  '--api-url': 'doctl',
  '--access-token': 'doctl',
  '--omit': 'npm',
  '--test': 'node',
  '--max-semi-space-size': 'node (V8)',
  '--max-old-space-size': 'node (V8)',
  '--jitless': 'node (V8)',
  '--lite-mode': 'node (V8)',
  '--max-opt': 'node (V8)',
  '--optimize-for-size': 'node (V8)',
  '--no-node-snapshot': 'node',
  '--authorization-mode': 'kube-apiserver',
  '--node-monitor-grace-period': 'kube-controller-manager',
  '--proxy-mode': 'kube-proxy',
  '--hostname-override': 'kube-proxy',
  '--conntrack-max-per-core': 'kube-proxy',
};

interface Mention {
  readonly name: string;
  readonly where: string;
}

/** Every match of `re` (its group 1, else the whole match) in the docs, with file:line. */
function mentions(re: RegExp, pick: (text: string) => string = (t) => t): Mention[] {
  const found: Mention[] = [];
  for (const file of DOCS) {
    readRepoFile(file)
      .split('\n')
      .forEach((line, i) => {
        for (const m of pick(line).matchAll(re)) found.push({ name: m[1] ?? m[0], where: `${file}:${i + 1}` });
      });
  }
  return found;
}

const unknown = (found: readonly Mention[], known: (name: string) => boolean): string[] => found.filter((m) => !known(m.name)).map((m) => `${m.name} (${m.where})`);

function helpFlags(entry: string): Set<string> {
  const r = spawnSync(process.execPath, [`${REPO_ROOT}${entry}`, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${entry} --help: ${r.stderr}`);
  const flags = new Set([...r.stdout.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  assert.ok(flags.size > 3, `${entry} --help lists flags`);
  return flags;
}

test('every --flag in the docs is a flag of floatip (its --help), of its benchmark or emulator, or of a named other program', () => {
  const ours = new Set(['reconciler/main.ts', 'webhook/main.ts', 'agent/main.ts', 'bench/failover.ts', 'test/do-emulator/main.ts'].flatMap((e) => [...helpFlags(e)]));
  const found = mentions(/(?<![\w-])(--[a-z][a-z0-9-]*)/g);
  assert.ok(found.length > 50, `only ${found.length} flag mentions found`);
  assert.deepEqual(unknown(found, (f) => ours.has(f) || f in OTHER_PROGRAMS_FLAGS), []);
});

test('every floatip_* metric in the docs is defined by the product code (histograms with their _bucket/_sum/_count)', () => {
  const defined = new Set([...PRODUCT_SOURCES.matchAll(/name: '(floatip_[a-z0-9_]+)'/g)].map((m) => m[1]));
  assert.ok(defined.size >= 25, `only ${defined.size} metric definitions found`);
  const found = mentions(/\b(floatip_[a-z0-9_]+)/g);
  assert.deepEqual(unknown(found, (n) => defined.has(n) || defined.has(n.replace(/_(bucket|sum|count)$/, ''))), []);
});

test('every FloatingIP* Event reason in the docs is emitted by the product code', () => {
  const reasons = new Set([...PRODUCT_SOURCES.matchAll(/'(FloatingIP[A-Za-z]+)'/g)].map((m) => m[1]));
  assert.ok(reasons.size >= 10, `only ${reasons.size} reasons found`);
  const found = mentions(/\b(FloatingIP[A-Za-z]+)\b/g);
  assert.deepEqual(unknown(found, (r) => reasons.has(r)), []);
});

test('every Floatip* alert in the docs is in the chart\'s PrometheusRule, and every alert has its runbook section', () => {
  const rule = readRepoFile('deploy/helm/floatip/templates/prometheus-rule.yaml');
  const alerts = new Set([...rule.matchAll(/- alert: (Floatip[A-Za-z]+)/g)].map((m) => m[1] ?? ''));
  assert.ok(alerts.size >= 12, `only ${alerts.size} alerts`);
  assert.deepEqual(unknown(mentions(/\b(Floatip[A-Z][A-Za-z]+)\b/g), (a) => alerts.has(a)), []);
  const runbooks = readRepoFile('docs/runbooks.md');
  for (const alert of alerts) {
    assert.ok(runbooks.includes(`\n## ${alert}\n`), `docs/runbooks.md has a section "## ${alert}"`);
    assert.ok(rule.includes(`runbook: docs/runbooks.md#${alert.toLowerCase()}`), `${alert} links its runbook`);
  }
});

type Schema = { properties?: Record<string, Schema>; patternProperties?: Record<string, Schema>; additionalProperties?: boolean | Schema; items?: Schema };

/** Whether a dotted value path (`reconciler.lease.duration`, `imagePullSecrets[0].name`, `*.affinity`) exists in the schema. */
function inSchema(schema: Schema, path: readonly string[]): boolean {
  const [head, ...rest] = path;
  if (head === undefined || head === '*') return true;
  const index = /^(.*)\[\d+\]$/.exec(head);
  if (index) {
    const inner = schema.properties?.[index[1] ?? ''];
    return inner?.items !== undefined && inSchema(inner.items, rest);
  }
  const child = schema.properties?.[head];
  if (child) return inSchema(child, rest);
  // a map the user fills (labels, ipPolicy) or an object passed to Kubernetes as given
  // (resources, affinity): any key below it
  const freeForm = schema.properties === undefined && schema.items === undefined;
  return freeForm || (schema.additionalProperties !== undefined && schema.additionalProperties !== false) || schema.patternProperties !== undefined;
}

test('every chart value in the docs (--set paths and `a.b.c` code spans) is in values.schema.json', () => {
  const schema = JSON.parse(readRepoFile('deploy/helm/floatip/values.schema.json')) as Schema;
  const top = Object.keys(schema.properties ?? {});
  const exists = (path: string) => {
    const parts = path.split('.');
    if (parts[0] === '*') return top.some((t) => inSchema(schema, [t, ...parts.slice(1)]) && schema.properties?.[t]?.properties?.[parts[1] ?? ''] !== undefined);
    return inSchema(schema, parts);
  };
  // helm's --set family: every key of a comma-separated list (commas inside {} belong to a value)
  const setArgs = mentions(/--set(?:-string|-file|-json)?[ =]['"]?([^'"\s]+)/g).flatMap((m) =>
    m.name.split(/,(?![^{]*\})/).map((pair) => ({ name: pair.split('=')[0] ?? '', where: m.where })),
  );
  // code spans that read as a value path: a top-level key, then .key or [n] parts, maybe `=`/`:` and a value
  const spanPath = new RegExp(`^((?:${top.join('|')}|\\*)(?:\\.[A-Za-z0-9*]+|\\[\\d+\\])+)(?:\\s*[=:].*)?$`);
  const spans = DOCS.flatMap((file) =>
    inlineCode(splitFences(readRepoFile(file)).prose)
      .filter((c) => !/\.(ya?ml|ts|js|json|md|txt|sh|tpl)$/.test(c))
      .flatMap((c) => {
        const m = spanPath.exec(c);
        return m ? [{ name: m[1] ?? '', where: file }] : [];
      }),
  );
  assert.ok(setArgs.length > 5 && spans.length > 20, `found ${setArgs.length} --set paths and ${spans.length} value spans`);
  assert.deepEqual(unknown([...setArgs, ...spans], exists), []);
});

test('every repository path the docs name (`deploy/...`, `test/...`, links) exists', () => {
  const roots = ['.ci', 'agent', 'bench', 'deploy', 'docs', 'reconciler', 'shared', 'test', 'webhook'];
  const path = new RegExp(`^(?:\\.\\./)?((?:${roots.join('|').replaceAll('.', '\\.')})/[A-Za-z0-9_./-]*[A-Za-z0-9_/])$`);
  const found: Mention[] = [];
  for (const file of DOCS) {
    const text = readRepoFile(file);
    const candidates = [...inlineCode(splitFences(text).prose), ...[...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1] ?? '')];
    for (const c of candidates) {
      const m = path.exec(c.split(' ')[0] ?? '');
      if (m) found.push({ name: file.startsWith('docs/') && c.startsWith('../') ? c.slice(3) : (m[1] ?? ''), where: file });
    }
  }
  assert.ok(found.length > 40, `only ${found.length} paths found`);
  // paths of other repositories the docs cite (digitalocean-cloud-controller-manager's docs)
  const elsewhere = new Set(['docs/controllers/services/annotations.md']);
  assert.deepEqual(unknown(found, (p) => elsewhere.has(p) || existsSync(`${REPO_ROOT}${p}`)), []);
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');

test('every #anchor a docs link names is a heading of its target', () => {
  const anchorsOf = (file: string) => new Set([...readRepoFile(file).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));
  const found: Mention[] = [];
  for (const file of DOCS) {
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    for (const m of readRepoFile(file).matchAll(/\]\(([^)#\s]*)#([^)\s]+)\)/g)) {
      const target = m[1] ? new URL(m[1], `file:///${dir}`).pathname.slice(1) : file;
      if (!target.endsWith('.md')) continue;
      found.push({ name: `${target}#${m[2]}`, where: file });
    }
  }
  assert.ok(found.length > 10, `only ${found.length} anchors found`);
  assert.deepEqual(unknown(found, (a) => {
    const [target = '', anchor = ''] = a.split('#');
    return existsSync(`${REPO_ROOT}${target}`) && anchorsOf(target).has(anchor);
  }), []);
});
