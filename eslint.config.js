// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:child_process',
  'node:http',
  'node:https',
  'bullmq',
  'ioredis',
  'ssh2',
  'ssh2-sftp-client',
  'express',
  'pino',
];

// What ships (src/, jobs/) never reaches into the tests: shared code lives in the package
// (e.g. src/local-services/) and test/support re-exports it.
const testImports = ['**/test/**', '**/test'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.ferry-demo/', 'bin/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      curly: ['error', 'multi-line'],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    files: ['src/**/*.ts', 'jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: testImports, message: 'Shipped code must not import from test/.' }] },
      ],
    },
  },
  {
    // The core decides; it never does I/O. Keep it that way. (This rule replaces the one above for
    // src/core, so it repeats the test/ ban.)
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules,
          patterns: [
            '@aws-sdk/*',
            '**/adapters/**',
            '**/ledger/**',
            '**/queues/**',
            '**/http/**',
            ...testImports,
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  // Tool config files must default-export.
  { files: ['eslint.config.js', 'vitest.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
