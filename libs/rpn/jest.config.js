module.exports = { ...require('../../jest.preset.js'), displayName: 'rpn', rootDir: __dirname };
