#!/usr/bin/env node
// Rewrites the README's `<details><summary><code>lumen … --help</code></summary>` blocks with
// what `lumen … --help` prints now (80 columns), so the README never drifts from the CLI.
//   node tools/docs/readme-help.mjs [--check]   (--check: exit 1 when the README is stale)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readmePath = join(root, 'README.md');
const bin = join(root, 'apps', 'cli', 'bin', 'lumen.js');
const block = /(<details><summary><code>lumen ([a-z -]+) --help<\/code><\/summary>\n\n```text\n)([\s\S]*?)(```\n\n<\/details>)/g;

const readme = readFileSync(readmePath, 'utf8');
const updated = readme.replace(block, (_all, head, command, _old, tail) => {
  const help = execFileSync(process.execPath, [bin, ...command.trim().split(' '), '--help'], { cwd: root, env: { ...process.env, COLUMNS: '80' }, encoding: 'utf8' });
  return `${head}${help.trimEnd()}\n${tail}`;
});
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    process.stderr.write('README.md: a `lumen … --help` block differs from the CLI; run node tools/docs/readme-help.mjs\n');
    process.exit(1);
  }
} else if (updated !== readme) {
  writeFileSync(readmePath, updated);
  process.stdout.write('README.md: help blocks updated\n');
}
