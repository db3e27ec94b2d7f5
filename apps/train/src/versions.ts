import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = ['backbone', 'rpn', 'roi-pool', 'rcnn-head', 'detector', 'config', 'data', 'runtime'];

/** Versions recorded in a checkpoint's meta.json: each lib's and tfjs', and the backend that ran. */
export function versions(backend: string): Record<string, string> {
  const out: Record<string, string> = { node: process.version, backend };
  const root = join(__dirname, '..', '..', '..');
  for (const lib of PACKAGES) {
    try {
      out[`@lumen/${lib}`] = JSON.parse(readFileSync(join(root, 'libs', lib, 'package.json'), 'utf8')).version;
    } catch {
      // a lib used from npm rather than the workspace: its version is not on disk here
    }
  }
  try {
    out['@tensorflow/tfjs-core'] = JSON.parse(readFileSync(require.resolve('@tensorflow/tfjs-core/package.json'), 'utf8')).version;
  } catch {
    // not resolvable (bundled)
  }
  return out;
}
