import { guessFrameRate, parseProbe } from './video-probe';
import { decoderArgs, withoutFileName } from './video-decoder';
import { encoderArgs } from './video-encoder';

const probe = (stream: object, format: object = {}) => JSON.stringify({ programs: [], streams: [stream], format });

describe('parseProbe', () => {
  it('size, exact rate and the container frame count', () => {
    expect(parseProbe(probe({ width: 1920, height: 1080, r_frame_rate: '30000/1001', avg_frame_rate: '30000/1001', nb_frames: '300', duration: '10.01' }))).toEqual({
      width: 1920,
      height: 1080,
      rate: { num: 30000, den: 1001 },
      frames: 300,
    });
  });

  it('a quarter turn of rotation (display matrix, or the old rotate tag) swaps the sides; a half turn does not', () => {
    const base = { width: 640, height: 360, r_frame_rate: '25/1', avg_frame_rate: '25/1', nb_frames: '5' };
    expect(parseProbe(probe({ ...base, side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }))).toMatchObject({ width: 360, height: 640 });
    expect(parseProbe(probe({ ...base, tags: { rotate: '270' } }))).toMatchObject({ width: 360, height: 640 });
    expect(parseProbe(probe({ ...base, side_data_list: [{ rotation: 180 }] }))).toMatchObject({ width: 640, height: 360 });
  });

  it('without a frame count (Matroska, WebM): duration x rate, the stream\'s or the container\'s', () => {
    expect(parseProbe(probe({ width: 8, height: 8, r_frame_rate: '24/1', avg_frame_rate: '24/1', duration: '2.5' })).frames).toBe(60);
    expect(parseProbe(probe({ width: 8, height: 8, r_frame_rate: '24/1', avg_frame_rate: '0/0' }, { duration: '1.0' })).frames).toBe(24);
    expect(parseProbe(probe({ width: 8, height: 8, r_frame_rate: '24/1', avg_frame_rate: '24/1' })).frames).toBeNull();
  });

  it('clear errors for no video stream, no size, no rate', () => {
    expect(() => parseProbe(JSON.stringify({ streams: [] }))).toThrow('it has no video stream');
    expect(() => parseProbe(probe({ width: 0, height: 8, r_frame_rate: '24/1' }))).toThrow('its video stream has no frame size');
    expect(() => parseProbe(probe({ width: 8, height: 8, r_frame_rate: '0/0', avg_frame_rate: '0/0' }))).toThrow('its video stream has no frame rate');
  });
});

describe('guessFrameRate', () => {
  it("ffmpeg's choice: the base rate, or the average when the base is a fine timestamp grid", () => {
    expect(guessFrameRate({ num: 25, den: 1 }, { num: 25, den: 1 })).toEqual({ num: 25, den: 1 });
    expect(guessFrameRate({ num: 90000, den: 1 }, { num: 2997, den: 100 })).toEqual({ num: 2997, den: 100 });
    expect(guessFrameRate({ num: 60, den: 1 }, { num: 2997, den: 100 })).toEqual({ num: 60, den: 1 });
    expect(guessFrameRate(null, { num: 24, den: 1 })).toEqual({ num: 24, den: 1 });
  });
});

describe('ffmpeg arguments', () => {
  it('decoding: the file protocol, the first video stream at a constant rate, raw RGB24 to stdout', () => {
    const args = decoderArgs('a:b.mp4', { width: 4, height: 2, rate: { num: 30000, den: 1001 }, frames: 3 }).join(' ');
    expect(args).toContain('-i file:a:b.mp4 -map 0:V:0');
    expect(args).toContain('-vsync cfr -r 30000/1001 -f rawvideo -pix_fmt rgb24 pipe:1');
  });

  it('encoding: H.264 yuv420p at the same rate; odd sides padded to even', () => {
    const even = encoderArgs(64, 48, { num: 25, den: 1 }, '/o/a.mp4').join(' ');
    expect(even).toContain('-s 64x48 -framerate 25/1 -i pipe:0 -c:v libx264');
    expect(even).toContain('-pix_fmt yuv420p');
    expect(even).toMatch(/-f mp4 -y file:\/o\/a\.mp4$/);
    expect(encoderArgs(97, 48, { num: 25, den: 1 }, 'a.mp4').join(' ')).toContain('-vf pad=ceil(iw/2)*2:ceil(ih/2)*2');
    expect(encoderArgs(64, 75, { num: 25, den: 1 }, 'a.mp4')).toContain('pad=ceil(iw/2)*2:ceil(ih/2)*2');
  });

  it("ffmpeg's messages without the file name the line gives already", () => {
    expect(withoutFileName('file:/v/a.mp4: Invalid data found when processing input', '/v/a.mp4')).toBe('Invalid data found when processing input');
    expect(withoutFileName('Conversion failed!', '/v/a.mp4')).toBe('Conversion failed!');
  });
});
