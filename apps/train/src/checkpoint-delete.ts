// `lumen checkpoint delete`: removes a checkpoint folder, and nothing that is not one.
import { UserError } from '@lumen/core';
import { readCheckpointMeta } from '@lumen/detector';
import { existsSync, lstatSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Deletes a checkpoint folder: it must hold a meta.json of format lumen-checkpoint and no
 * subfolder (a checkpoint is flat), so a mistyped path never removes anything else. Renamed to
 * `<dir>.deleting` first: an interrupted delete never leaves a half checkpoint that looks whole.
 * Returns the bytes freed.
 */
export function deleteCheckpoint(dir: string): number {
  if (!existsSync(dir)) throw new UserError(`checkpoint ${dir} does not exist`);
  if (lstatSync(dir).isSymbolicLink()) throw new UserError(`${dir} is a symbolic link: give the checkpoint folder itself`);
  try {
    readCheckpointMeta(dir);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    throw new UserError(`refusing to delete ${dir}: ${error.message}`);
  }
  const entries = readdirSync(dir).map((name) => ({ name, stat: lstatSync(join(dir, name)) }));
  const folder = entries.find(({ stat }) => stat.isDirectory());
  if (folder) throw new UserError(`refusing to delete ${dir}: it holds a folder (${folder.name}), which a checkpoint never does; remove it by hand if you mean to`);
  const bytes = entries.reduce((sum, { stat }) => sum + stat.size, 0);
  const doomed = `${dir.replace(/\/+$/, '')}.deleting`;
  rmSync(doomed, { recursive: true, force: true });
  renameSync(dir, doomed);
  rmSync(doomed, { recursive: true, force: true });
  return bytes;
}
