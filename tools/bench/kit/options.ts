/**
 * The command line every bench shares — --runs, --warmup, --no-torch, --python, --json,
 * --help — and each bench's own integer counts, switches and strings, parsed and checked
 * in one place so a bad value reads the same everywhere.
 */
import { parseArgs } from 'node:util';

/** A bad command line: main.ts prints it without a stack trace. */
export class UsageError extends Error {}

/** An integer flag: its value when absent and the least value it takes. */
export interface Count {
  default: number;
  min: number;
}

/** --torch-threads, shared by the benches whose peer computes on torch threads. */
export const TORCH_THREADS: Count = { default: 2, min: 1 };

export interface FlagSpec<C extends string, S extends string, T extends string> {
  usage: string;
  /** Defaults of --runs and --warmup: each bench's rows take their own time. */
  runs: number;
  warmup: number;
  counts?: Record<C, Count>;
  switches?: readonly S[];
  strings?: readonly T[];
}

export interface BenchOptions<C extends string, S extends string, T extends string> {
  runs: number;
  warmup: number;
  /** False with --no-torch: no PyTorch peer, no ratio columns. */
  torch: boolean;
  python: string;
  json: string | undefined;
  counts: Record<C, number>;
  switches: Record<S, boolean>;
  strings: Record<T, string | undefined>;
}

/** Debian's python3-torchvision lives under the system python, not a virtualenv's. */
const DEFAULT_PYTHON = '/usr/bin/python3';

function count(name: string, value: string | undefined, spec: Count, usage: string): number {
  if (value == null) return spec.default;
  const n = Number(value);
  if (!Number.isInteger(n) || n < spec.min) throw new UsageError(`--${name}=${value}: expected an integer >= ${spec.min}\n${usage}`);
  return n;
}

/** The options, or null after printing the usage for --help. */
export function parseOptions<C extends string = never, S extends string = never, T extends string = never>(
  argv: string[],
  spec: FlagSpec<C, S, T>,
): BenchOptions<C, S, T> | null {
  const counts = { runs: { default: spec.runs, min: 1 }, warmup: { default: spec.warmup, min: 0 }, ...spec.counts } as Record<string, Count>;
  const switches = ['no-torch', 'help', ...(spec.switches ?? [])];
  const strings = ['python', 'json', ...(spec.strings ?? [])];
  const flags = Object.fromEntries([
    ...[...Object.keys(counts), ...strings].map((name) => [name, { type: 'string' as const }]),
    ...switches.map((name) => [name, { type: 'boolean' as const }]),
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: flags }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${spec.usage}`);
  }
  if (values.help === true) {
    console.log(spec.usage);
    return null;
  }
  const text = (name: string) => values[name] as string | undefined;
  const pick = <K extends string, V>(names: readonly K[], value: (name: K) => V) => Object.fromEntries(names.map((n) => [n, value(n)])) as Record<K, V>;
  return {
    runs: count('runs', text('runs'), counts.runs, spec.usage),
    warmup: count('warmup', text('warmup'), counts.warmup, spec.usage),
    torch: values['no-torch'] !== true,
    python: text('python') ?? process.env.LUMEN_TORCH_PYTHON ?? DEFAULT_PYTHON,
    json: text('json'),
    counts: pick(Object.keys(spec.counts ?? {}) as C[], (name) => count(name, text(name), counts[name], spec.usage)),
    switches: pick(spec.switches ?? [], (name) => values[name] === true),
    strings: pick(spec.strings ?? [], text),
  };
}

/** The rows a --rows=ID,… list names (all rows without one), in the list's order. */
export function pickRows<R extends { id: string }>(
  list: string | undefined,
  rows: readonly R[],
  usage: string,
  matches: (row: R, id: string) => boolean = (row, id) => row.id === id,
): R[] {
  if (list == null) return [...rows];
  return list
    .split(',')
    .filter(Boolean)
    .map((id) => {
      const row = rows.find((r) => matches(r, id));
      if (row == null) throw new UsageError(`--rows: unknown row '${id}'\n${usage}`);
      return row;
    });
}
