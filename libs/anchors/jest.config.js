module.exports = { ...require('../../jest.preset.js'), displayName: 'anchors', rootDir: __dirname };
