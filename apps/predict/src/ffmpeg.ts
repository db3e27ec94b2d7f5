// Which ffmpeg `lumen predict` runs for videos, and what it said when it failed.
import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';

const HOW_TO_GET = 'install it (Debian/Ubuntu: apt-get install ffmpeg) or set LUMEN_FFMPEG to its path';

export interface FfmpegPrograms {
  ffmpeg: string;
  /** ffprobe beside ffmpeg: every ffmpeg distribution ships the two together. */
  ffprobe: string;
}

function isProgram(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    const candidate = resolve(dir === '' ? '.' : dir, name);
    if (isProgram(candidate)) return candidate;
  }
  return null;
}

/**
 * The ffmpeg to run: `program` when given, else $LUMEN_FFMPEG (a path, or a name looked up on
 * the PATH), else `ffmpeg` on the PATH; ffprobe is the program beside it ("ffmpeg" in its
 * name replaced by "ffprobe"). Throws a message that says how to get ffmpeg.
 */
export function locateFfmpeg(program?: string, env: NodeJS.ProcessEnv = process.env): FfmpegPrograms {
  const named = program ?? (env.LUMEN_FFMPEG || undefined);
  let ffmpeg: string | null;
  if (named == null) {
    ffmpeg = onPath('ffmpeg', env.PATH);
    if (ffmpeg == null) throw new Error(`videos need ffmpeg, which is not on the PATH: ${HOW_TO_GET}`);
  } else {
    ffmpeg = named.includes('/') ? (isProgram(resolve(named)) ? resolve(named) : null) : onPath(named, env.PATH);
    const source = program != null ? 'ffmpeg program' : 'LUMEN_FFMPEG';
    if (ffmpeg == null) throw new Error(`videos need ffmpeg, but ${source} ${named} is not a program: ${HOW_TO_GET}`);
  }
  const name = basename(ffmpeg);
  const ffprobe = join(dirname(ffmpeg), name.includes('ffmpeg') ? name.replace('ffmpeg', 'ffprobe') : 'ffprobe');
  if (!isProgram(ffprobe)) throw new Error(`videos need ffprobe beside ${ffmpeg}, but ${ffprobe} is not a program: ${HOW_TO_GET}`);
  return { ffmpeg, ffprobe };
}

/** The end of a program's stderr, kept as it streams in (bounded, however much it writes). */
export class StderrTail {
  private text = '';

  constructor(private readonly keep = 8192) {}

  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.keep);
  }

  /** The last non-empty line, trimmed ('' when there is none). */
  lastLine(): string {
    return lastLine(this.text);
  }
}

export function lastLine(text: string): string {
  return (
    text
      .split(/\r?\n|\r/)
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

/** Why a program stopped, for messages: its last stderr line, else its exit code or signal. */
export function exitReason(program: string, code: number | null, signal: NodeJS.Signals | null, stderr: StderrTail): string {
  const line = stderr.lastLine();
  if (line !== '') return line;
  return signal != null ? `${basename(program)} was stopped by ${signal}` : `${basename(program)} exited with code ${code}`;
}
