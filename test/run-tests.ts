// Runs the whole suite with Node's built-in test runner. Test files are TypeScript run
// directly by Node 24's type stripping; no loader, no transpile step.
//   node test/run-tests.ts          unit + http + e2e (e2e needs the Kubernetes binaries)
//   node test/run-tests.ts unit     only the fast tests (no control plane)
//   node test/run-tests.ts e2e      only the control-plane tests
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const which = process.argv[2] ?? 'all';
const roots = ['shared', 'webhook', 'reconciler', 'agent', 'test', 'bench'];
const all = roots.flatMap((root) => globSync(`${root}/**/*.test.ts`)).sort();
const isE2e = (file: string) => file.includes('.e2e.test.ts');
const files = all.filter((f) => (which === 'unit' ? !isE2e(f) : which === 'e2e' ? isE2e(f) : true));
if (files.length === 0) {
  console.error(`no test files for "${which}"`);
  process.exit(1);
}
// The chart tests run helm. build-helm.sh finds it in the cache (milliseconds) or builds it
// once (a few minutes, needs Go); every test file gets its path. When it cannot, those tests
// fail with a sentence saying how to build it.
const helm = spawnSync('bash', ['test/cluster/build-helm.sh'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const helmPath = helm.status === 0 ? helm.stdout.trim().split('\n').at(-1) : undefined;
const env = helmPath ? { ...process.env, FLOATIP_HELM: helmPath } : process.env;
// e2e files each start a control plane; run them one at a time on a 2-core machine.
const args = ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(result.status ?? 1);
