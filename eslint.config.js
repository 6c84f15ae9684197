// Lint: typescript-eslint's recommended type-aware rules, plus the workflow determinism boundary:
// code under workflows/ runs in Temporal's sandbox and is replayed, so it must not import Node
// built-ins, connectors or activities' implementations, nor read clocks or randomness directly.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['eslint.config.js', 'node_modules/', '.tools/', '.flywheel/', '.scratch/', 'examples/*/.flywheel/', 'examples/*/data/', 'bin/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'Workflows run in the Temporal sandbox: no Node built-ins.' },
            { group: ['**/connectors/**', '**/worker/**', '**/runtime/**', '**/cli/**'], message: 'Workflows only orchestrate: reach engines through activities.' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'Import activities as types only (proxyActivities<typeof ...>).' },
          ],
          paths: ['fs', 'path', 'crypto', 'child_process', 'os', 'net', 'http', 'https'].map((name) => ({ name, message: 'Workflows run in the Temporal sandbox: no Node built-ins.' })),
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use uuid4() or a seeded value from the workflow input.' },
        { object: 'Date', property: 'now', message: 'Use workflowInfo() times; the sandbox clock is replayed.' },
      ],
    },
  },
);
