// Entry of generateDigits' worker threads. From the workspace's TypeScript sources it
// registers tsx (with the @lumen/* paths of the tsconfig named by TSX_TSCONFIG_PATH, else the
// workspace's base one) first; compiled, it runs render-worker.js.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const source = join(__dirname, 'render-worker.ts');
if (existsSync(source)) {
  process.env.TSX_TSCONFIG_PATH ??= join(__dirname, '..', '..', '..', '..', 'tsconfig.base.json');
  require('tsx/cjs/api').register();
  require(source);
} else {
  require('./render-worker.js');
}
