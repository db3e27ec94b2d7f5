module.exports = { ...require('../../jest.preset.js'), displayName: 'train', rootDir: __dirname, testTimeout: 300000 };
