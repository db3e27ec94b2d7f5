import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * The folder relative paths in configs (data/, jobs/, weights) are read against: the nearest
 * ancestor of `from` holding an `nx.json` (the Lumen workspace, or the user's own), else `from`
 * itself. So `lumen train` behaves the same from any subfolder of the workspace.
 */
export function workspaceRoot(from: string = process.cwd()): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(from);
    dir = parent;
  }
}

/** `path` as an absolute path: unchanged when absolute, else under the workspace root. */
export function fromWorkspace(path: string, from?: string): string {
  return isAbsolute(path) ? path : join(workspaceRoot(from), path);
}
