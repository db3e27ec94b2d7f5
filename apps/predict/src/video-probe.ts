// What ffprobe says of a video's first video stream: the frame size as displayed, the frame
// rate frames are read at, and how many frames to expect.
import { execFile } from 'node:child_process';
import type { FfmpegPrograms } from './ffmpeg';
import { lastLine } from './ffmpeg';

/** A frame rate as a fraction (30000/1001 stays exact: frame k is at k * den / num seconds). */
export interface FrameRate {
  num: number;
  den: number;
}

export interface VideoInfo {
  /** The frames' size as ffmpeg hands them over: rotation metadata applied. */
  width: number;
  height: number;
  rate: FrameRate;
  /** Frames expected (the container's count, else duration x rate; null when neither is known), for progress. */
  frames: number | null;
}

/** The first video stream (attached cover pictures are not video), its rotation and the container's duration. */
export const PROBE_ARGS = [
  '-v', 'error',
  '-select_streams', 'V:0',
  '-show_entries', 'stream=width,height,r_frame_rate,avg_frame_rate,nb_frames,duration:stream_side_data:stream_tags=rotate:format=duration',
  '-of', 'json',
];

function parseRate(text: unknown): FrameRate | null {
  const match = /^(\d+)\/(\d+)$/.exec(String(text ?? ''));
  if (match == null) return null;
  const [num, den] = [Number(match[1]), Number(match[2])];
  return num > 0 && den > 0 ? { num, den } : null;
}

const perSecond = (rate: FrameRate) => rate.num / rate.den;

/**
 * The rate ffmpeg itself would give the stream (av_guess_frame_rate): the stream's base rate,
 * unless that is over 210 and the average under 70 (timestamps of a variable-rate video).
 */
export function guessFrameRate(base: FrameRate | null, average: FrameRate | null): FrameRate | null {
  if (base != null && average != null && perSecond(base) > 210 && perSecond(average) < 70) return average;
  return base ?? average;
}

interface ProbeJson {
  streams?: Array<{
    width?: number;
    height?: number;
    r_frame_rate?: string;
    avg_frame_rate?: string;
    nb_frames?: string;
    duration?: string;
    tags?: { rotate?: string };
    side_data_list?: Array<{ rotation?: number }>;
  }>;
  format?: { duration?: string };
}

/** ffprobe's JSON (PROBE_ARGS) as a VideoInfo; throws a message for a file without a usable video stream. */
export function parseProbe(json: string): VideoInfo {
  const probe = JSON.parse(json) as ProbeJson;
  const stream = probe.streams?.[0];
  if (stream == null) throw new Error('it has no video stream');
  const { width, height } = stream;
  if (!(Number.isInteger(width) && Number.isInteger(height) && (width as number) > 0 && (height as number) > 0)) throw new Error('its video stream has no frame size');
  const rate = guessFrameRate(parseRate(stream.r_frame_rate), parseRate(stream.avg_frame_rate));
  if (rate == null) throw new Error('its video stream has no frame rate');
  const rotation = stream.side_data_list?.find((s) => s.rotation != null)?.rotation ?? Number(stream.tags?.rotate ?? 0);
  const quarterTurn = Math.abs(Math.round(rotation / 90)) % 2 === 1;
  const counted = Number(stream.nb_frames);
  const duration = Number(stream.duration ?? probe.format?.duration);
  const frames = Number.isInteger(counted) && counted > 0 ? counted : duration > 0 ? Math.max(1, Math.round((duration * rate.num) / rate.den)) : null;
  return { width: quarterTurn ? (height as number) : (width as number), height: quarterTurn ? (width as number) : (height as number), rate, frames };
}

/** Probes `file` with ffprobe; a failure's message is ffprobe's last stderr line. */
export function probeVideo(programs: FfmpegPrograms, file: string): Promise<VideoInfo> {
  return new Promise((resolve, reject) => {
    execFile(programs.ffprobe, [...PROBE_ARGS, '-i', `file:${file}`], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error != null) {
        reject(new Error(lastLine(stderr) || error.message));
        return;
      }
      try {
        resolve(parseProbe(stdout));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
