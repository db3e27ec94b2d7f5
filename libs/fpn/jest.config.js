module.exports = { ...require('../../jest.preset.js'), displayName: 'fpn', rootDir: __dirname };
