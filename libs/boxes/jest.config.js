module.exports = { ...require('../../jest.preset.js'), displayName: 'boxes', rootDir: __dirname };
