import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitReason, lastLine, locateFfmpeg, StderrTail } from './ffmpeg';

const HOW = 'install it (Debian/Ubuntu: apt-get install ffmpeg) or set LUMEN_FFMPEG to its path';

describe('locateFfmpeg', () => {
  let dir: string;
  const program = (path: string) => {
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-ffmpeg-'));
    for (const sub of ['bin', 'opt', 'lonely']) mkdirSync(join(dir, sub));
    program(join(dir, 'bin', 'ffmpeg'));
    program(join(dir, 'bin', 'ffprobe'));
    program(join(dir, 'opt', 'ffmpeg-7'));
    program(join(dir, 'opt', 'ffprobe-7'));
    program(join(dir, 'lonely', 'ffmpeg'));
    writeFileSync(join(dir, 'opt', 'not-executable'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ffmpeg on the PATH, ffprobe beside it', () => {
    expect(locateFfmpeg(undefined, { PATH: `${join(dir, 'nothing')}:${join(dir, 'bin')}` })).toEqual({ ffmpeg: join(dir, 'bin', 'ffmpeg'), ffprobe: join(dir, 'bin', 'ffprobe') });
  });

  it('LUMEN_FFMPEG: a path or a name on the PATH; ffprobe named alike', () => {
    expect(locateFfmpeg(undefined, { PATH: '', LUMEN_FFMPEG: join(dir, 'opt', 'ffmpeg-7') })).toEqual({ ffmpeg: join(dir, 'opt', 'ffmpeg-7'), ffprobe: join(dir, 'opt', 'ffprobe-7') });
    expect(locateFfmpeg(undefined, { PATH: join(dir, 'opt'), LUMEN_FFMPEG: 'ffmpeg-7' }).ffmpeg).toBe(join(dir, 'opt', 'ffmpeg-7'));
    // The program given wins over the environment.
    expect(locateFfmpeg(join(dir, 'bin', 'ffmpeg'), { LUMEN_FFMPEG: '/nonexistent' }).ffmpeg).toBe(join(dir, 'bin', 'ffmpeg'));
  });

  it('says how to get ffmpeg when it is missing, LUMEN_FFMPEG names no program, or ffprobe is not beside it', () => {
    expect(() => locateFfmpeg(undefined, { PATH: join(dir, 'opt') })).toThrow(`videos need ffmpeg, which is not on the PATH: ${HOW}`);
    expect(() => locateFfmpeg(undefined, { PATH: join(dir, 'bin'), LUMEN_FFMPEG: '/nonexistent' })).toThrow(`videos need ffmpeg, but LUMEN_FFMPEG /nonexistent is not a program: ${HOW}`);
    expect(() => locateFfmpeg(undefined, { LUMEN_FFMPEG: join(dir, 'opt', 'not-executable') })).toThrow('is not a program');
    expect(() => locateFfmpeg(undefined, { LUMEN_FFMPEG: join(dir, 'opt') })).toThrow('is not a program');
    expect(() => locateFfmpeg(undefined, { PATH: join(dir, 'lonely') })).toThrow(`videos need ffprobe beside ${join(dir, 'lonely', 'ffmpeg')}, but ${join(dir, 'lonely', 'ffprobe')} is not a program: ${HOW}`);
  });
});

describe('stderr', () => {
  it('the last non-empty line, from a bounded tail', () => {
    expect(lastLine('a\nb\r\n\n  c  \n\n')).toBe('c');
    expect(lastLine('')).toBe('');
    const tail = new StderrTail(16);
    for (let i = 0; i < 1000; i++) tail.push(`line ${i}\n`);
    expect(tail.lastLine()).toBe('line 999');
    expect(exitReason('/usr/bin/ffmpeg', 1, null, new StderrTail())).toBe('ffmpeg exited with code 1');
    expect(exitReason('/usr/bin/ffmpeg', null, 'SIGKILL', new StderrTail())).toBe('ffmpeg was stopped by SIGKILL');
    expect(exitReason('/usr/bin/ffmpeg', 1, null, tail)).toBe('line 999');
  });
});
