// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { localRules } from './eslint-rules/no-import-cycle.js';

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
const noTestImports = { group: testImports, message: 'Shipped code must not import from test/.' };

// The layers (docs/architecture.md). Each block below replaces no-restricted-imports for its files, so
// each repeats the test/ ban.

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
    plugins: { local: localRules },
    rules: {
      'local/no-import-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [noTestImports] }],
    },
  },
  {
    // The core decides; it never does I/O, and it stands alone: it imports only itself, src/errors.ts and
    // pure packages.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({ name, message: 'The core does no I/O.' })),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'The core does no I/O.' },
            {
              regex: String.raw`^\.\./(?!errors\.js$)`,
              message: 'src/core imports only src/core and src/errors.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // Adapters wrap outside systems (S3, SFTP, the egress proxy); what was delivered is the ledger's
    // business, and the jobs combine the two.
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/ledger/**', '**/ledger'], message: 'Adapters do not import the ledger.' },
            noTestImports,
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
  {
    // The web UI's browser code: plain JavaScript typed by JSDoc, in its own program (lib dom, no node).
    files: ['src/http/ui/browser/**/*.js', 'src/http/ui/browser/**/*.d.ts'],
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, project: './tsconfig.browser.json' },
    },
    rules: {
      // tsc -p tsconfig.browser.json knows the browser's globals (lib dom) and rejects unknown names.
      'no-undef': 'off',
    },
  },
  { files: ['eslint.config.js', 'eslint-rules/**/*.js'], ...tseslint.configs.disableTypeChecked },
  // Tool config files must default-export.
  { files: ['eslint.config.js', 'vitest.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
