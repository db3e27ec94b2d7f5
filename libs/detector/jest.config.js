module.exports = { ...require('../../jest.preset.js'), displayName: 'detector', rootDir: __dirname };
