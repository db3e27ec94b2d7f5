// Shared jest settings for every project: swc for a fast TypeScript transform, node
// environment, and `@lumen/<lib>` resolved to the lib's sources so tests need no build.
const path = require('node:path');

const root = __dirname;

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    // The native kernels are a built package (node-gyp), not TypeScript sources.
    '^@lumen/runtime-native$': path.join(root, 'libs/runtime-native/index.js'),
    // The apps the CLI assembles.
    '^@lumen/(train|predict|board)$': path.join(root, 'apps/$1/src/index.ts'),
    '^@lumen/([a-z0-9-]+)$': path.join(root, 'libs/$1/src/index.ts'),
  },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  setupFiles: [path.join(root, 'tools/jest/setup-tfjs.js')],
  // Deterministic, quiet runs on a 2-core machine.
  maxWorkers: 1,
};
