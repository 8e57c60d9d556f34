// ESLint for the TypeScript and JavaScript sources (`npm run lint`). Formatting is Prettier's job
// (.prettierrc.json), so no stylistic rules here; type-aware rules use tsconfig.eslint.json.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'build/',
      'build-*/',
      'prebuilds/',
      'variants/',
      'coverage/',
      'report/',
      'benchmark_results/',
      'inference_benchmarks/',
      'native/cuda/tools/results/',
      'examples/plugins/*/build/',
      '.ci/torch-venv/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        project: './tsconfig.eslint.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Type-aware checks worth their cost: a promise nobody awaits or a promise passed where a
      // callback's return is ignored loses its error; awaiting a non-promise hides a mistake.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `_`-prefixed names are deliberately unused (callback positions, destructuring to omit).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // The TypeScript tests get their types from test/tsconfig.json (`npm run lint:types`), which
    // adds the DOM lib for the browser callbacks, so the type-aware rules see what tsc sees.
    files: ['test/**/*.ts'],
    languageOptions: {
      parserOptions: { project: './test/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // CommonJS scripts (install hooks, prebuild helpers) run as plain Node scripts.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
