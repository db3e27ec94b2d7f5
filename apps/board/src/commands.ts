// What `lumen board` does, without the argument parsing (cli.ts), so tests and embedding
// programs call it with plain options.
import { fromWorkspace, UserError } from '@lumen/core';
import { resolve } from 'node:path';
import { checkJobsFolder, listJobs } from './jobs';
import { createBoardServer } from './server';

export interface BoardCliOptions {
  /** The jobs folder; jobs/ of the workspace when not given. */
  jobs?: string;
  port: string;
  host: string;
}

/** A TCP port from --port: 0-65535 (0 picks a free one). */
function parsePort(value: string): number {
  const port = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new UserError(`--port must be a port number (0-65535), but got '${value}'`);
  return port;
}

/** The signals that stop the board: Ctrl-C, and what Docker, systemd and `timeout` send. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Resolves with the first of SIGINT / SIGTERM, its handlers removed. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const handlers = STOP_SIGNALS.map((signal) => {
      const handler = () => {
        handlers.forEach((remove) => remove());
        done(signal);
      };
      process.on(signal, handler);
      return () => process.off(signal, handler);
    });
  });
}

/** `lumen board`: serves the board until SIGINT / SIGTERM, then closes the server and returns. */
export async function runBoardCommand(opts: BoardCliOptions, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<void> {
  const port = parsePort(opts.port);
  const jobsDir = opts.jobs != null ? resolve(opts.jobs) : fromWorkspace('jobs');
  checkJobsFolder(jobsDir);
  const server = await createBoardServer({ jobsDir });
  let url: string;
  try {
    url = await server.listen({ port, host: opts.host });
  } catch (error) {
    await server.close();
    throw error;
  }
  const stopped = stopSignal();
  const count = listJobs(jobsDir).length;
  log(`lumen board: ${url} (${count === 0 ? 'no jobs yet' : `${count} job(s)`} in ${jobsDir}; new ones appear as they start; Ctrl-C stops)`);
  const signal = await stopped;
  log(`lumen board: ${signal}: stopping`);
  await server.close();
}
