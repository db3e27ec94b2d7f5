import { constants } from 'node:os';
import { ReplaySubject, type Observable } from 'rxjs';

/** The signals that ask a run to stop: Ctrl-C, and what Docker, Kubernetes, systemd and `timeout` send. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's code for a process ended by `signal`: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * A request to stop training after the current step (a checkpoint is saved, then the run
 * returns). Made by a signal, or by a program that embeds the training run.
 */
export class StopRequest {
  private readonly requests = new ReplaySubject<void>(1);
  /** Emits once, when the stop is requested (at once for a late subscriber). */
  readonly requested$: Observable<void> = this.requests.asObservable();
  requested = false;
  /** The signal that asked, or null when a program did. */
  signal: StopSignal | null = null;

  /** Asks once; a signal after a program's request is still recorded (a second one then quits). */
  request(signal: StopSignal | null = null): void {
    this.signal ??= signal;
    if (this.requested) return;
    this.requested = true;
    this.requests.next();
  }

  /** "SIGTERM", or "a stop request" when no signal asked. */
  describe(): string {
    return this.signal ?? 'a stop request';
  }
}

/**
 * Turns SIGINT and SIGTERM into `stop.request(signal)`; a second signal exits at once, without
 * saving, with that signal's exit code. Returns the function that removes the handlers.
 */
export function listenForStopSignals(stop: StopRequest, log: (message: string) => void): () => void {
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = () => {
      if (stop.signal) process.exit(signalExitCode(signal));
      stop.request(signal);
      const again = signal === 'SIGINT' ? 'Ctrl-C again' : `${signal} again`;
      log(`${signal}: saving a checkpoint after this step (${again} to quit without saving)`);
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => handlers.forEach((remove) => remove());
}
