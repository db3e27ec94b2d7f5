import { IMAGE_EXTENSIONS } from '@lumen/data';
import fg from 'fast-glob';
import { statSync } from 'node:fs';
import { join } from 'node:path';

// The extensions training reads, so predict finds every image a dataset could hold.
const IMAGE_RE = new RegExp(`\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

/** Inputs decoded by ffmpeg, frame by frame (by extension, whatever the case). */
export const VIDEO_EXTENSIONS: readonly string[] = ['mp4', 'mov', 'avi', 'mkv', 'webm'];
const VIDEO_RE = new RegExp(`\\.(${VIDEO_EXTENSIONS.join('|')})$`, 'i');

export function isImagePath(path: string): boolean {
  return IMAGE_RE.test(path);
}

export function isVideoPath(path: string): boolean {
  return VIDEO_RE.test(path);
}

const isMediaPath = (path: string) => isImagePath(path) || isVideoPath(path);
const LOOKED_FOR = `.${[...IMAGE_EXTENSIONS, ...VIDEO_EXTENSIONS].join(', .')}`;

/** Natural order ('2.jpg' before '10.jpg'), the same on every machine. */
export function compareNatural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);
}

function kindOf(path: string): 'file' | 'dir' | null {
  try {
    const stat = statSync(path);
    return stat.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/**
 * The image and video files named by `--input` values, in the order given: a file as it is
 * (whatever its extension); a folder searched recursively for image and video extensions, in
 * natural order, paths joined to the folder as given; a glob (fast-glob syntax) expanded,
 * images and videos only, in natural order. A path that is neither an existing file or folder nor a glob is kept, so
 * the run reports it as unreadable on its own line. A glob or folder that finds nothing is
 * reported through `warn`.
 */
export async function expandInputs(inputs: readonly string[], warn: (message: string) => void = () => undefined): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const kind = kindOf(input);
    if (kind === 'file') {
      files.push(input);
    } else if (kind === 'dir') {
      const found = await fg('**/*', { cwd: input, onlyFiles: true, followSymbolicLinks: true, suppressErrors: true });
      const media = found.filter(isMediaPath).sort(compareNatural);
      if (media.length === 0) warn(`no images or videos in folder ${input} (looked for ${LOOKED_FOR})`);
      files.push(...media.map((f) => join(input, f)));
    } else if (fg.isDynamicPattern(input)) {
      const found = (await fg(input, { onlyFiles: true, suppressErrors: true })).filter(isMediaPath).sort(compareNatural);
      if (found.length === 0) warn(`no images or videos match ${input}`);
      files.push(...found);
    } else {
      files.push(input);
    }
  }
  return files;
}
