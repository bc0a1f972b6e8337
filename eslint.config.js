// Lint config: typescript-eslint's recommended rules, type-aware where it pays.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'deploy/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Product code never imports test support: test helpers live under test/, and the image
    // compiles only what the three entry points import.
    // Nor does it `import` values from the builtins whose ES module namespace loads more than
    // the process uses: building the namespace evaluates every lazy export, so node:http pulls
    // in Node's bundled undici (its WebSocket exports), node:fs its promise API and watchers,
    // node:util parseArgs and streams, node:crypto WebCrypto (about 8 MiB of RSS in the agent).
    // `process.getBuiltinModule('node:http')` returns the module without that. Types are free.
    files: ['shared/**/*.ts', 'webhook/**/*.ts', 'reconciler/**/*.ts', 'agent/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['**/test/**'], message: 'product code may not import test/ (fakes, fixtures, the emulator)' }],
          paths: ['http', 'fs', 'util', 'crypto'].flatMap((name) => [name, `node:${name}`]).map((name) => ({
            name,
            allowTypeImports: true,
            message: `its ES module namespace loads more than we use: const { … } = process.getBuiltinModule('${name.startsWith('node:') ? name : `node:${name}`}') (eslint.config.js)`,
          })).concat({
            // the package's entry point imports every API group and auth provider (~20 MiB)
            name: '@kubernetes/client-node',
            allowTypeImports: true,
            message: 'values from client-node come through reconciler/kube/api.ts (footprint); types are free',
          }),
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
