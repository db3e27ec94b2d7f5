// Builds the native kernels with node-gyp (npm ships it). They are an accelerator, not a
// requirement: when there is no C++ toolchain the install still succeeds and
// @lumen/runtime runs on the wasm backend alone, saying why.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

if (process.env.LUMEN_NATIVE === '0') {
  console.warn('[@lumen/runtime-native] LUMEN_NATIVE=0: not building the native kernels');
  process.exit(0);
}
// npm tells scripts where its own node-gyp is; otherwise look beside npm, then on PATH.
const candidates = [
  process.env.npm_config_node_gyp,
  join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
const command = candidates.length > 0 ? [process.execPath, [candidates[0], 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command[0], command[1], { cwd: __dirname, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.status !== 0 || !existsSync(join(__dirname, 'build', 'Release', 'lumen_native.node'))) {
  console.warn(
    '[@lumen/runtime-native] could not build the native kernels (needs python3, make and a C++17 compiler);' +
      ' Lumen will run on the wasm backend alone. Rebuild with: npm rebuild @lumen/runtime-native',
  );
}
process.exit(0);
