// Lint for src/, test/ and scripts/ (`npm run lint`, run in CI): ESLint's and typescript-eslint's
// recommended rules, plus the type-aware promise rules. A promise nobody awaits or catches ended a
// re-INVITE unanswered once (issue #14, defect 5); no-floating-promises and no-misused-promises keep
// that from coming back.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'prompts/', 'moh/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-console': 'error',
      // A handler made before a value exists may read it later (an event during an await): that `let` stays.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests and scripts print their findings and drive children; console is their voice there.
    files: ['test/**/*.ts', 'scripts/**/*.mjs'],
    rules: { 'no-console': 'off' },
  },
  {
    // The web console runs in the browser as plain ES modules (src/api/web, issue #12).
    files: ['src/api/web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'navigator',
          'localStorage',
          'sessionStorage',
          'fetch',
          'URL',
          'URLSearchParams',
          'WebSocket',
          'Node',
          'CSS',
          'alert',
          'confirm',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          // The browser phone (issue #16): WebRTC media and the page's own ring tone.
          'EventTarget',
          'Event',
          'MediaStream',
          'AudioContext',
        ].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: {
      globals: {
        global: 'readonly',
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        AbortController: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }] },
  },
);
