// Lint: Google's TypeScript style (gts), as Google Cloud's Node libraries use it. `npm run lint`, `npm run fix`.
const ignores = [
  'lib/',
  'node_modules/',
  'bench/results/',
  '.emulators/',
  'coverage/',
];

module.exports = [
  {ignores},
  ...require('gts'),
  {
    files: ['**/*.ts'],
    rules: {
      // `const {dropped: _dropped, ...rest} = o` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          varsIgnorePattern: '^_',
          argsIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // The few CommonJS files Jest and ESLint load themselves.
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
      },
    },
  },
];
