/** How every bench ends: with its exit code, and a bad command line without a stack trace. */
import { UsageError } from './options';

function exit(code: number): void {
  process.exitCode = code;
  // A backend's worker threads can keep the process alive: exit once stdout has taken the table.
  process.stdout.write('', () => process.exit(code));
}

/** Runs a bench's main; its result is the exit code (1 when it throws). */
export function runBench(main: () => Promise<number>): void {
  main().then(exit, (e: unknown) => {
    console.error(e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
    exit(1);
  });
}
