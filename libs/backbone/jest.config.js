module.exports = { ...require('../../jest.preset.js'), displayName: 'backbone', rootDir: __dirname };
