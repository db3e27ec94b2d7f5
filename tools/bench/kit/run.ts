/**
 * How every bench ends: with its exit code, and a bad command line without a stack trace.
 * A measurement's outcome is kept (kit/results.ts) before the process exits.
 */
import { UsageError } from './options';
import { writeResults, type BenchOutcome } from './results';

function exit(code: number): void {
  process.exitCode = code;
  // A backend's worker threads can keep the process alive: exit once stdout has taken the table.
  process.stdout.write('', () => process.exit(code));
}

/** Writes --json=PATH and tools/bench/results/<bench>.json; the last line says how to refresh BENCHMARKS.md. */
function keep(bench: string, outcome: BenchOutcome): number {
  const file = writeResults(bench, outcome, process.argv.slice(2));
  console.log(`\nkept in ${file}; \`npx nx run tools:bench-report\` refreshes BENCHMARKS.md`);
  return outcome.code;
}

/**
 * Runs a bench's main. Its result is the exit code (1 when it throws), or a measurement's
 * outcome, kept as tools/bench/results/<bench>.json (and --json's file) before exiting with
 * its code. A bare code (--help, a worker process, a bench that cannot run) keeps nothing.
 */
export function runBench(bench: string, main: () => Promise<number | BenchOutcome>): void {
  main()
    .then((result) => (typeof result === 'number' ? result : keep(bench, result)))
    .then(exit, (e: unknown) => {
      console.error(e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
      exit(1);
    });
}
