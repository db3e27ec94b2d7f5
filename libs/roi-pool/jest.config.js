module.exports = { ...require('../../jest.preset.js'), displayName: 'roi-pool', rootDir: __dirname };
