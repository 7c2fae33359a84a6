// Unit tests need nothing; *.emulator.test.ts need the Firestore emulator, which `npm test` starts.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {'^.+\\.ts$': ['@swc/jest', {jsc: {target: 'es2022'}}]},
  testTimeout: 30_000,
  globalSetup: '<rootDir>/test/support/global-setup.js',
  // Two cores: one worker per core keeps the emulator responsive.
  maxWorkers: 2,
};
