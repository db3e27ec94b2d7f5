/**
 * The processes bench-queue runs besides the producers: Debian's redis-server on a free port
 * of 127.0.0.1 without persistence, and `lumen worker`s. Whatever is still running when the
 * bench exits (a failure, a signal) is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { LUMEN_CLI } from '../kit/lumen-predict';

export const REDIS_SERVER = '/usr/bin/redis-server';

const running = new Set<ChildProcess>();
let guarded = false;

/** Kills the children still running when this process exits or is told to stop. */
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (guarded) return;
  guarded = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const c of running) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

const alive = (child: ChildProcess) => child.exitCode == null && child.signalCode == null;

/** Sends `signal`, waits up to `seconds` for the exit, then SIGKILL; the exit code (null when killed). */
async function stop(child: ChildProcess, signal: NodeJS.Signals, seconds: number): Promise<number | null> {
  if (alive(child)) {
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
    await exited;
    clearTimeout(timer);
  }
  return child.exitCode;
}

/** Why redis-server cannot run here, or null when it can. */
export function redisServerMissing(): string | null {
  if (!existsSync(REDIS_SERVER)) return `${REDIS_SERVER} is missing: install Debian's redis-server (apt-get install -y redis-server)`;
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return probe.error != null ? `${REDIS_SERVER} does not run: ${probe.error.message}` : null;
}

/** A TCP port of 127.0.0.1 nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface BenchRedis {
  url: string;
  /** `redis-server X.Y.Z`, from its --version. */
  version: string;
  stop(): Promise<void>;
}

/** Starts redis-server on a free port with no persistence, its working folder `dir`. */
export async function startRedis(dir: string): Promise<BenchRedis> {
  const port = await freePort();
  const said = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).stdout;
  const version = `redis-server ${/v=(\S+)/.exec(said)?.[1] ?? '(version unknown)'}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  for (let i = 0; i < 200 && !/Ready to accept connections/.test(log) && alive(child); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/Ready to accept connections/.test(log)) {
    await stop(child, 'SIGKILL', 5);
    throw new Error(`redis-server did not start on port ${port}: ${log.slice(-500)}`);
  }
  return { url: `redis://127.0.0.1:${port}`, version, stop: async () => void (await stop(child, 'SIGTERM', 10)) };
}

export interface BenchWorker {
  /** SIGTERM (finishes the jobs in hand), waits for the exit; rejects unless it exits 0. */
  stop(): Promise<void>;
}

const LAST_LINES = 8;

/** Starts `lumen worker` on `queue` and waits for its `serving queue` line (at most `seconds`). */
export async function startWorker(redis: string, checkpoint: string, queue: string, seconds = 300): Promise<BenchWorker> {
  const args = [LUMEN_CLI, 'worker', '--redis', redis, '--checkpoint', checkpoint, '--queue-name', queue];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-20_000)));
  const tail = () => stderr.trim().split('\n').slice(-LAST_LINES).join('\n');
  const ready = new RegExp(`lumen worker: serving queue ${queue} `);
  const deadline = Date.now() + seconds * 1000;
  while (!ready.test(stderr)) {
    if (!alive(child)) throw new Error(`lumen worker (queue ${queue}) exited with code ${child.exitCode} before serving:\n${tail()}`);
    if (Date.now() > deadline) {
      await stop(child, 'SIGKILL', 5);
      throw new Error(`lumen worker (queue ${queue}) not serving after ${seconds} s:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async stop() {
      const code = await stop(child, 'SIGTERM', 60);
      if (code !== 0) throw new Error(`lumen worker (queue ${queue}) did not stop cleanly on SIGTERM (exit code ${code}):\n${tail()}`);
    },
  };
}
