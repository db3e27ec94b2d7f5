module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'board',
  rootDir: __dirname,
  testTimeout: 60000,
  // Trains the tiny jobs the specs read (a few seconds), once per run.
  globalSetup: '<rootDir>/src/testing/global-setup.ts',
  globalTeardown: '<rootDir>/src/testing/global-teardown.ts',
};
