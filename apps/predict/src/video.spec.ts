// Videos in `lumen predict`: frames read by ffmpeg through a pipe, one JSON line per frame equal
// to what the same frames extracted as PNG images give, the drawn H.264 video, bounded reading,
// and a clear error where ffmpeg is missing. Clips are made here with ffmpeg's testsrc; the
// tests that need ffmpeg are skipped, saying so, where it is missing (.ci/run installs it).
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import * as tf from '@tensorflow/tfjs-core';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { drawObjectsOnFrame } from './draw';
import { locateFfmpeg, type FfmpegPrograms } from './ffmpeg';
import { predictFiles, type PredictLine, type PredictOptions, type Predictor } from './predict';
import { makeTinyCheckpoint, testImage } from './testing/tiny-checkpoint';
import { FrameReader } from './video-decoder';
import { probeVideo } from './video-probe';

const ROOT = resolve(__dirname, '../../..');
const LUMEN = join(ROOT, 'apps/cli/bin/lumen.js');

let programs: FfmpegPrograms | null = null;
try {
  programs = locateFfmpeg();
} catch (error) {
  console.warn(`SKIPPED the video tests that need ffmpeg: ${(error as Error).message}`);
}
const withFfmpeg = programs != null ? describe : describe.skip;

const MISSING = (file: string, named: string) =>
  `cannot decode video '${file}': videos need ffmpeg, but ffmpeg program ${named} is not a program: install it (Debian/Ubuntu: apt-get install ffmpeg) or set LUMEN_FFMPEG to its path`;

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PredictLine) };
}

describe('videos', () => {
  let dir: string;
  let detector: LoadedDetector;
  let image: string;
  let clip: string;

  const run = async (options: Partial<PredictOptions> & { files: string[] }) => {
    const out = collector();
    const messages: string[] = [];
    const summary = await predictFiles({ predictor: detector, output: out.stream, progress: false, log: (m) => messages.push(m), minProb: 0, ...options });
    return { summary, lines: out.lines(), messages };
  };
  const ffmpeg = (...args: string[]) => execFileSync((programs as FfmpegPrograms).ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
  const ffprobe = (...args: string[]) => JSON.parse(execFileSync((programs as FfmpegPrograms).ffprobe, ['-v', 'error', '-of', 'json', ...args]).toString());

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-video-'));
    await makeTinyCheckpoint(join(dir, 'checkpoint'));
    detector = loadDetector(join(dir, 'checkpoint'));
    image = join(dir, 'a.png');
    writeFileSync(image, await testImage(120, 90, 'png', 1));
    clip = join(dir, 'clip.mp4');
    // Odd sides (the drawn video must pad them for yuv420p), 8 frames at 25 fps.
    if (programs != null) ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=97x75:rate=25:duration=0.32', '-c:v', 'libx264', '-pix_fmt', 'yuv444p', clip);
    else writeFileSync(clip, 'not made: no ffmpeg');
  });
  afterAll(() => {
    detector.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without ffmpeg a video is an error line saying how to get it; the images around it are predicted', async () => {
    const { lines, messages, summary } = await run({ files: [image, clip, image], ffmpeg: '/nonexistent/ffmpeg' });
    expect(lines.map((l) => l.file)).toEqual([image, clip, image]);
    expect(lines[1]).toEqual({ file: clip, objects: [], error: MISSING(clip, '/nonexistent/ffmpeg') });
    expect(lines[0].objects.length).toBeGreaterThan(0);
    expect(lines[2]).toEqual(lines[0]);
    expect(messages).toEqual([`lumen predict: ${clip}: ${MISSING(clip, '/nonexistent/ffmpeg')}`]);
    expect(summary).toMatchObject({ images: 2, videos: 1, frames: 0, failed: 1 });
  });

  withFfmpeg('with ffmpeg', () => {
    let pngs: string[];
    beforeAll(() => {
      mkdirSync(join(dir, 'frames'));
      ffmpeg('-i', clip, join(dir, 'frames', '%03d.png'));
      pngs = readdirSync(join(dir, 'frames'))
        .sort()
        .map((f) => join(dir, 'frames', f));
    });

    it('one line per frame, in order, between the images, with the objects of the frames extracted as PNG; a drawn H.264 video of every frame', async () => {
      expect(pngs).toHaveLength(8);
      const tensors = tf.memory().numTensors;
      const media = join(dir, 'media');
      const { lines, summary } = await run({ files: [image, clip, image], saveMedia: media, maxDetections: 3 });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(summary).toMatchObject({ images: 2, videos: 1, frames: 8, failed: 0 });
      expect(lines).toHaveLength(10);
      const frames = lines.slice(1, 9);
      expect(frames.map((l) => Object.keys(l))).toEqual(frames.map(() => ['file', 'frame', 'time', 'objects']));
      expect(frames.map((l) => [l.file, l.frame, l.time])).toEqual(pngs.map((_, k) => [clip, k, k / 25]));
      const asImages = (await run({ files: pngs, maxDetections: 3 })).lines;
      expect(frames.map((l) => l.objects)).toEqual(asImages.map((l) => l.objects));
      expect(frames.every((l) => l.objects.length === 3)).toBe(true);

      expect(readdirSync(media).sort()).toEqual(['a-2.png', 'a.png', 'clip.mp4']);
      const drawn = join(media, 'clip.mp4');
      const [stream] = ffprobe('-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames', drawn).streams;
      expect(stream).toEqual({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 98, height: 76, r_frame_rate: '25/1', nb_read_frames: '8' });

      // Frame 5 of the drawn video is the input's frame 5 with its boxes drawn (up to H.264's loss), not the frame alone.
      const rgb = (file: string, frame: number) =>
        execFileSync((programs as FfmpegPrograms).ffmpeg, ['-loglevel', 'error', '-i', file, '-vf', `select=eq(n\\,${frame}),format=rgb24,crop=97:75:0:0`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
      const plain = rgb(clip, 5);
      const expected = await drawObjectsOnFrame(plain, 97, 75, frames[5].objects, detector.classes);
      const got = rgb(drawn, 5);
      expect(got.length).toBe(97 * 75 * 3);
      // Where the drawing changed the frame: the drawn video has the drawing there, not the frame.
      const drawnAt = [...expected.keys()].filter((i) => Math.abs(expected[i] - plain[i]) > 64);
      expect(drawnAt.length).toBeGreaterThan(500);
      const meanDifference = (a: Buffer, b: Buffer) => drawnAt.reduce((sum, i) => sum + Math.abs(a[i] - b[i]), 0) / drawnAt.length;
      expect(meanDifference(got, expected)).toBeLessThan(meanDifference(got, plain) / 4);
    });

    it("torchvision's resize: frames still give their PNGs' objects", async () => {
      const predictor: Predictor = { classes: detector.classes, detect: (images) => detector.detect(images), imageSize: { ...detector.imageSize, resize: 'torchvision' } };
      const video = (await run({ files: [clip], predictor, maxDetections: 5 })).lines;
      const asImages = (await run({ files: pngs, predictor, maxDetections: 5 })).lines;
      expect(video.map((l) => l.objects)).toEqual(asImages.map((l) => l.objects));
    });

    it("a file ffmpeg cannot read is an error line with ffmpeg's last stderr line; the rest goes on", async () => {
      const garbage = join(dir, 'garbage.mkv');
      writeFileSync(garbage, 'this is not a video');
      const truncated = join(dir, 'truncated.mp4');
      writeFileSync(truncated, readFileSync(clip).subarray(0, 2000));
      const noVideo = join(dir, 'sound.mkv');
      ffmpeg('-f', 'lavfi', '-i', 'sine=duration=0.2', noVideo);
      const missing = join(dir, 'missing.webm');
      const { lines, summary } = await run({ files: [garbage, truncated, noVideo, missing, image], saveMedia: join(dir, 'media-bad') });
      expect(lines.slice(0, 4)).toEqual([
        { file: garbage, objects: [], error: `cannot decode video '${garbage}': Invalid data found when processing input` },
        { file: truncated, objects: [], error: `cannot decode video '${truncated}': Invalid data found when processing input` },
        { file: noVideo, objects: [], error: `cannot decode video '${noVideo}': it has no video stream` },
        { file: missing, objects: [], error: `cannot decode video '${missing}': No such file or directory` },
      ]);
      expect(lines[4].file).toBe(image);
      expect(summary).toMatchObject({ failed: 4, frames: 0 });
      expect(readdirSync(join(dir, 'media-bad'))).toEqual(['a.png']);
    });

    it('an output that fails mid-video stops the run: no ffmpeg left running, no drawn video left half-written', async () => {
      const media = join(dir, 'media-stopped');
      let lines = 0;
      const failing = new Writable({
        write(_chunk, _encoding, done) {
          lines++;
          done(lines === 3 ? Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) : null);
        },
      });
      const error = await predictFiles({ predictor: detector, files: [clip, clip], output: failing, progress: false, saveMedia: media, prefetch: 2 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'OutputError', message: 'ENOSPC: no space left on device, write' });
      expect(readdirSync(media)).toEqual([]);
      const children = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'comm=']).toString();
      expect(children).not.toContain('ffmpeg');
    });

    it('reads one frame at a time: a reader nobody reads from holds at most about two frames while ffmpeg waits', async () => {
      const long = join(dir, 'long.mp4');
      ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=50:duration=12', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', long);
      const info = await probeVideo(programs as FfmpegPrograms, long);
      expect(info).toEqual({ width: 160, height: 120, rate: { num: 50, den: 1 }, frames: 600 });
      const reader = new FrameReader(programs as FfmpegPrograms, long, info);
      try {
        expect((await reader.read())?.length).toBe(160 * 120 * 3);
        // Unread, ffmpeg would finish these 600 small frames in a fraction of this.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(reader.running).toBe(true);
        // The stream's buffer grows to the power of two above a frame, plus one read from the pipe (64 KiB).
        expect(reader.buffered).toBeLessThanOrEqual(2 * 160 * 120 * 3 + 65536);
        let count = 1;
        while ((await reader.read()) != null) count++;
        expect(count).toBe(600);
        expect(reader.running).toBe(false);
      } finally {
        reader.close();
      }
    });
  });

  describe('lumen predict (child process)', () => {
    const lumen = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, [LUMEN, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0', ...env }, timeout: 120000 }, (error, stdout, stderr) => {
          done({ code: error == null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
        });
      });
    const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as PredictLine);

    type Run = Awaited<ReturnType<typeof lumen>>;
    let noFfmpeg: Run;
    let folderRun: Run | null = null;
    let folder: string;
    let media: string;
    // Both commands at once (each spends most of its time starting up).
    beforeAll(async () => {
      folder = join(dir, 'folder');
      media = join(dir, 'cli-media');
      if (programs != null) {
        mkdirSync(join(folder, 'frames'), { recursive: true });
        writeFileSync(join(folder, 'clip.mov'), readFileSync(clip));
        ffmpeg('-i', clip, join(folder, 'frames', '%03d.png'));
      }
      [noFfmpeg, folderRun] = await Promise.all([
        lumen(['predict', `--checkpoint=${join(dir, 'checkpoint')}`, image, clip, '--min-prob=0'], { LUMEN_FFMPEG: '/nonexistent' }),
        programs != null ? lumen(['predict', `--checkpoint=${join(dir, 'checkpoint')}`, `--input=${folder}`, '--min-prob=0', '--max-detections=4', `--save-media=${media}`]) : null,
      ]);
    }, 120000);

    it('LUMEN_FFMPEG naming no program: the video is an error line saying how to get ffmpeg, the image is predicted, exit code 1', () => {
      const { code, stdout, stderr } = noFfmpeg;
      expect(code).toBe(1);
      const lines = parse(stdout);
      expect(lines.map((l) => l.file)).toEqual([image, clip]);
      expect(lines[0].objects.length).toBeGreaterThan(0);
      const error = MISSING(clip, '/nonexistent').replace('ffmpeg program', 'LUMEN_FFMPEG');
      expect(lines[1]).toEqual({ file: clip, objects: [], error });
      expect(stderr).toContain(`lumen predict: ${clip}: ${error}\n`);
      expect(stderr).toMatch(/lumen predict: 1 image\(s\), 1 video\(s\) \(0 frames\), \d+ object\(s\), 1 failed/);
    });

    (programs != null ? it : it.skip)('a folder with a video and its frames as PNG: the same objects per frame; the drawn video has every frame', () => {
      const { code, stdout, stderr } = folderRun as Run;
      expect(stderr).toMatch(/lumen predict: 8 image\(s\), 1 video\(s\) \(8 frames\), 64 object\(s\), 0 failed, [\d.]+ s \([\d.]+ frames\/s\)/);
      expect(code).toBe(0);
      const lines = parse(stdout);
      expect(lines.map((l) => [l.file, l.frame])).toEqual([
        ...Array.from({ length: 8 }, (_, k) => [join(folder, 'clip.mov'), k]),
        ...Array.from({ length: 8 }, (_, k) => [join(folder, 'frames', `00${k + 1}.png`), undefined]),
      ]);
      expect(lines.slice(0, 8).map((l) => l.objects)).toEqual(lines.slice(8).map((l) => l.objects));
      const [stream] = ffprobe('-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', join(media, 'clip.mp4')).streams;
      expect(stream).toEqual({ nb_read_frames: '8' });
    });
  });
});
