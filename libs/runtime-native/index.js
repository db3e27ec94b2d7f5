'use strict';
// The compiled kernels, or the reason they are not available.
const { join } = require('node:path');

let native = null;
let reason = null;
if (process.env.LUMEN_NATIVE === '0') {
  reason = 'disabled by LUMEN_NATIVE=0';
} else {
  try {
    native = require(join(__dirname, 'build', 'Release', 'lumen_native.node'));
  } catch (e) {
    reason = `not built (${String(e && e.message).split('\n')[0]}); run: npm rebuild @lumen/runtime-native`;
  }
}
module.exports = { native, reason };
