/**
 * The clips of the video rows: images encoded into an H.264 video by ffmpeg, and the same
 * frames decoded back to PNG files, so `lumen predict` sees the same pixels either way.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';

/** The clips' frame rate: a camera watched at a few frames a second. */
export const CLIP_FPS = 5;
/** Every image scaled to fit and padded to this square (even, as yuv420p wants). */
export const CLIP_SIZE = 384;

/** The ffmpeg `lumen predict` would run ($LUMEN_FFMPEG, else `ffmpeg` on the PATH), or why there is none. */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): { ffmpeg: string } | { missing: string } {
  const ffmpeg = env.LUMEN_FFMPEG || 'ffmpeg';
  const run = spawnSync(ffmpeg, ['-hide_banner', '-version'], { stdio: 'ignore' });
  if (run.error != null || run.status !== 0) {
    const source = env.LUMEN_FFMPEG ? `LUMEN_FFMPEG=${env.LUMEN_FFMPEG}` : 'ffmpeg on the PATH';
    return { missing: `${source} does not run (${run.error?.message ?? `exit code ${run.status}`}): install ffmpeg or set LUMEN_FFMPEG to its path` };
  }
  return { ffmpeg };
}

function runFfmpeg(ffmpeg: string, args: string[]): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun() : reject(new Error(`ffmpeg ${args.join(' ')} exited with code ${code}:\n${stderr}`))));
  });
}

export interface Clip {
  video: string;
  /** Folder of the video's frames as PNG files, in order (frame-00001.png, ...). */
  frames: string;
  count: number;
}

/**
 * Encodes `images` (one frame each, in order) into `dir`/clip.mp4 — H.264, CLIP_FPS, each image
 * scaled to fit CLIP_SIZE² and padded — and decodes the clip's frames into `dir`/frames.
 */
export async function makeClip(ffmpeg: string, images: readonly string[], dir: string): Promise<Clip> {
  // The image2 demuxer reads a numbered sequence: link the images under sequence names.
  const sources = join(dir, 'sources');
  mkdirSync(sources, { recursive: true });
  const ext = extname(images[0]);
  images.forEach((image, i) => symlinkSync(resolve(image), join(sources, `${String(i + 1).padStart(5, '0')}${ext}`)));
  const video = join(dir, 'clip.mp4');
  const fit = `scale=${CLIP_SIZE}:${CLIP_SIZE}:force_original_aspect_ratio=decrease,pad=${CLIP_SIZE}:${CLIP_SIZE}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`;
  await runFfmpeg(ffmpeg, [
    '-framerate', String(CLIP_FPS), '-start_number', '1', '-i', join(sources, `%05d${ext}`),
    '-vf', fit, '-c:v', 'libx264', '-preset', 'medium', '-crf', '20', '-r', String(CLIP_FPS), '-y', video,
  ]);
  const frames = join(dir, 'frames');
  mkdirSync(frames, { recursive: true });
  await runFfmpeg(ffmpeg, ['-i', video, '-vsync', 'cfr', '-r', String(CLIP_FPS), join(frames, 'frame-%05d.png')]);
  const count = readdirSync(frames).filter((f) => f.endsWith('.png')).length;
  if (count !== images.length) throw new Error(`clip of ${images.length} images decoded to ${count} PNG frames`);
  return { video, frames, count };
}
