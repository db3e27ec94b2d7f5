// @lumen/board: `lumen board`, the page of training curves over a jobs folder, for programs
// that embed it, and the command itself (apps/cli assembles it into `lumen`).
export { boardCommands } from './cli';
export { runBoardCommand } from './commands';
export type { BoardCliOptions } from './commands';
export { checkJobsFolder, listJobs, METRICS_FILE } from './jobs';
export type { JobFile } from './jobs';
export { parseMetrics } from './metrics';
export type { FinalEvaluation, JobSeries } from './metrics';
export { createBoardServer, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REFRESH_MS } from './server';
export type { BoardOptions, BoardServer, JobSummary } from './server';
