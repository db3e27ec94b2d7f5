import { listenError, UserError } from '@lumen/core';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { listJobs, SeriesCache, type JobFile } from './jobs';
import type { JobSeries } from './metrics';
import { pageHtml } from './page';

export const DEFAULT_PORT = 6006;
export const DEFAULT_HOST = '127.0.0.1';
/** How often the page asks for changes by default. */
export const DEFAULT_REFRESH_MS = 2000;

export interface BoardOptions {
  /** The folder of job folders (or one job folder). */
  jobsDir: string;
  /** How often the page polls /api/jobs, in ms. */
  refreshMs?: number;
  /** Fastify's request log (pino), off by default. */
  logger?: boolean;
}

/** A job in the list: its folder, when its metrics last changed, how far it got. */
export interface JobSummary {
  name: string;
  dir: string;
  bytes: number;
  /** ISO time of metrics.jsonl's last change. */
  modified: string;
  /** Changes whenever metrics.jsonl does: the page fetches a job's series again only then. */
  version: string;
  /** The last step with a train record (null before the first). */
  lastStep: number | null;
}

export interface BoardServer {
  app: FastifyInstance;
  /** Starts listening; resolves to the base URL (port 0 picks a free port). */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

/** An HTTP error with a JSON body `{ "error": message }`. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** uPlot's browser build and stylesheet, served from node_modules (no CDN). */
function uplotAsset(file: string): string {
  return readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
}

/**
 * The board (TensorBoard's scalars for Lumen's metrics.jsonl): `GET /` the page,
 * `GET /api/jobs` the jobs under the folder, `GET /api/jobs/:name` a job's series. Errors are
 * JSON `{ "error": "…" }`: 404 an unknown job or a jobs folder that is gone.
 */
export async function createBoardServer(options: BoardOptions): Promise<BoardServer> {
  const { jobsDir } = options;
  const cache = new SeriesCache();
  const script = uplotAsset('uPlot.iife.min.js');
  const style = uplotAsset('uPlot.min.css');
  const page = pageHtml({ jobsDir, refreshMs: options.refreshMs ?? DEFAULT_REFRESH_MS });

  const app = Fastify({ logger: options.logger ?? false });
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    request.log.error(error);
    return reply.code(500).send({ error: `internal error: ${error.message}` });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `not found: ${request.method} ${request.url.split('?')[0]}` }));

  const jobs = (): JobFile[] => {
    try {
      const found = listJobs(jobsDir);
      cache.keepOnly(found);
      return found;
    } catch (error) {
      // The folder was removed (or made unreadable) while the board runs.
      if (error instanceof UserError) throw new HttpError(404, error.message);
      throw error;
    }
  };
  const seriesOf = (job: JobFile): JobSeries => {
    try {
      return cache.series(job);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError(404, `job ${job.name}: its metrics.jsonl is gone`);
      throw error;
    }
  };

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/assets/uPlot.iife.min.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(script));
  app.get('/assets/uPlot.min.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=3600').send(style));

  app.get('/api/jobs', async () => ({
    folder: jobsDir,
    jobs: jobs().map((job): JobSummary => {
      const steps = seriesOf(job).train.step;
      return {
        name: job.name,
        dir: job.dir,
        bytes: job.bytes,
        modified: new Date(job.modified).toISOString(),
        version: `${job.bytes}:${job.modified}`,
        lastStep: steps.at(-1) ?? null,
      };
    }),
  }));

  app.get<{ Params: { name: string } }>('/api/jobs/:name', async (request) => {
    const job = jobs().find((candidate) => candidate.name === request.params.name);
    if (job == null) throw new HttpError(404, `no job named '${request.params.name}' in ${jobsDir}`);
    return { name: job.name, version: `${job.bytes}:${job.modified}`, ...seriesOf(job) };
  });

  return {
    app,
    async listen({ port = DEFAULT_PORT, host = DEFAULT_HOST } = {}) {
      try {
        await app.listen({ port, host });
      } catch (error) {
        throw listenError(error, host, port);
      }
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address != null ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    },
    close: () => app.close(),
  };
}
