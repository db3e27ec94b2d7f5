#!/usr/bin/env node
// The `lumen` command: runs the CLI's TypeScript sources through tsx (with the workspace's
// path mapping), so a fresh clone needs no build step.
const { join } = require('node:path');

const root = join(__dirname, '..', '..', '..');
// tsx reads the tsconfig (and its @lumen/* paths) named here when it registers.
process.env.TSX_TSCONFIG_PATH = join(root, 'apps', 'cli', 'tsconfig.json');
require('tsx/cjs/api').register();
void require(join(root, 'apps', 'cli', 'src', 'main.ts')).main();
