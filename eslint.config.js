// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'test-build/', 'node_modules/', 'data/', 'eslint.config.js', 'scripts/', 'native/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An unawaited ledger write is a lost impression.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // A failed assert without a message has Node 20 look for the call's expression in the
      // caller's source, parsing from each token before it at the line V8 reports: under tsx that
      // is a line of the compiled JavaScript read against the TypeScript file, and the search took
      // over 11 minutes on one test file, the run ending at its limit naming no test.
      'no-restricted-syntax': [
        'error',
        ...[
          "CallExpression[callee.name='assert'][arguments.length<2]",
          "CallExpression[callee.object.name='assert'][callee.property.name='ok'][arguments.length<2]",
        ].map((selector) => ({
          selector,
          message:
            'Give assert a message saying what was expected (or use assert.equal, assert.match, ...): ' +
            'without one, Node 20 searches the source for the failed expression and can hang the run for minutes.',
        })),
      ],
    },
  },
  {
    // Tests read JSON answers field by field; typing every answer would only restate the API.
    files: ['test/**/*.ts', '**/*.test.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The hot path imports only domain, ports and lib: no control plane, no adapters.
    files: ['src/hot/**/*.ts', 'src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/control/**', '**/adapters/**', '**/console/**', '**/cli/**', '**/reports/**'],
              message: 'The hot path and domain import only domain, ports and lib.',
            },
          ],
        },
      ],
    },
  },
);
