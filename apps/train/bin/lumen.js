#!/usr/bin/env node
// The `lumen` command: runs the apps' TypeScript sources through tsx (with the workspace's
// path mapping), so a fresh clone needs no build step. `lumen predict …` belongs to the
// predict app; everything else to the train app.
const { join } = require('node:path');

const root = join(__dirname, '..', '..', '..');
const command = process.argv[2];
const app = command === 'predict' || command === 'server' ? 'predict' : 'train';
// tsx reads the tsconfig (and its @lumen/* paths) named here when it registers.
process.env.TSX_TSCONFIG_PATH = join(root, 'apps', app, 'tsconfig.json');
require('tsx/cjs/api').register();
require(join(root, 'apps', app, 'src', 'main.ts'));
