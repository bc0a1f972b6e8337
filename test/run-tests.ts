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
// e2e files each start a control plane; run them one at a time on a 2-core machine.
const args = ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
