module.exports = { ...require('../../jest.preset.js'), displayName: 'predict', rootDir: __dirname, testTimeout: 60000 };
