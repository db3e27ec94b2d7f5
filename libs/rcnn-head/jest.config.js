module.exports = { ...require('../../jest.preset.js'), displayName: 'rcnn-head', rootDir: __dirname };
