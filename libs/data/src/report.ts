import type { DatasetType, Example, Log, Split } from './types';


/**
 * Why something was skipped or changed. Reports list their counts in this order (file-level
 * problems first), so a report reads the same whatever order concurrent image checks finish in.
 */
export const ISSUE_REASONS = [
  /** The split's list / annotation / CSV file is missing: the whole split is unusable. */
  'missing-file',
  /** XML/JSON/CSV that does not parse (the example, or for one-file formats the split, is skipped). */
  'malformed-file',
  /** A record without a required field (VOC object without `name`/`bndbox`, a COCO annotation without `bbox`, a CSV row with too few columns). */
  'malformed-record',
  'missing-image',
  'undecodable-image',
  /** Image size neither in the annotation nor readable from the file, or annotation and file disagree. */
  'bad-image-size',
  'duplicate-id',
  /** A COCO annotation whose `image_id` names no image. */
  'unknown-image',
  'unknown-class',
  'nan-coordinate',
  /** x2 <= x1 or y2 <= y1 (COCO: w or h <= 0). */
  'degenerate-box',
  /** No real overlap with the image (under a pixel once clipped). */
  'box-outside-image',
  /** Not a skip: a box partly outside the image, clipped to it. */
  'box-clipped',
] as const;

export type IssueReason = (typeof ISSUE_REASONS)[number];

/** What an issue cost. */
export type IssueEffect = 'split-skipped' | 'example-skipped' | 'box-skipped' | 'box-clipped';

export interface Issue {
  reason: IssueReason;
  effect: IssueEffect;
  /** The file at fault (annotation, list or image). */
  file: string;
  /** 1-based line in `file`, where the format has lines (CSV, XML, JSON errors). */
  line?: number;
  /** COCO annotation id, VOC object index (0-based), CSV row. */
  annotation?: string | number;
  exampleId?: string;
  message: string;
}

/** Everything a dataset split's readers and streams skipped or changed, with counts. */
export interface DatasetReport {
  type: DatasetType;
  dir: string;
  /** The split's name in the dataset (`trainval`, `train2017`, …). */
  split: string;
  /** Which of the config's splits it is, when opened through a config. */
  role?: Split;
  /** The split's file (list, JSON or CSV). */
  file: string;
  classes: string[];
  /** Images the annotation file lists. */
  listed: number;
  /** Usable examples (undecodable images found while streaming are subtracted). */
  examples: number;
  /** Usable examples with no box (kept: background-only). */
  emptyExamples: number;
  /** Boxes kept, difficult/crowd ones included. */
  boxes: number;
  difficultBoxes: number;
  /** Boxes kept per class name. */
  boxesPerClass: Record<string, number>;
  /** Boxes partly outside their image, clipped (and kept). */
  clippedBoxes: number;
  /** Examples skipped, by reason. */
  skippedExamples: Partial<Record<IssueReason, number>>;
  /** Boxes skipped, by reason. */
  skippedBoxes: Partial<Record<IssueReason, number>>;
  /** Set when the split could not be read at all. */
  fatal?: string;
  /** The first `maxIssues` issues in the order found. */
  issues: Issue[];
  /** Issues counted but not kept in `issues`. */
  omittedIssues: number;
}

export interface ReportOptions {
  type: DatasetType;
  dir: string;
  split: string;
  role?: Split;
  file: string;
  /** Receives each warning; default console.warn. */
  log?: Log;
  /** Warnings printed per reason before the rest are only counted (default 20). */
  maxLoggedPerReason?: number;
  /** Issues kept in the report (default 1000). */
  maxIssues?: number;
}

/** Collects a split's issues and counts as readers and streams go. */
export interface ReportCollector {
  /** Records an issue (and logs it, up to the per-reason limit). `once` dedupes by key. */
  issue(issue: Issue, once?: string): void;
  /** Records an example the reader produced. */
  kept(example: Example): void;
  /** An example the reader produced turned out unusable when decoded: subtract it, record the issue once. */
  dropped(example: Example, reason: IssueReason, message: string): void;
  setClasses(classes: string[]): void;
  setListed(count: number): void;
  setFatal(message: string): void;
  snapshot(): DatasetReport;
}

export function formatIssue(issue: Issue): string {
  const where = issue.line != null ? `${issue.file}:${issue.line}` : issue.file;
  const what = issue.annotation != null ? ` [${typeof issue.annotation === 'number' ? `#${issue.annotation}` : issue.annotation}]` : '';
  const effect = { 'split-skipped': 'split skipped', 'example-skipped': 'image skipped', 'box-skipped': 'box skipped', 'box-clipped': 'box clipped' }[issue.effect];
  return `${where}${what}: ${issue.message} (${effect})`;
}

export function createReportCollector(options: ReportOptions): ReportCollector {
  const log = options.log ?? ((message: string) => console.warn(message));
  const maxLogged = options.maxLoggedPerReason ?? 20;
  const maxIssues = options.maxIssues ?? 1000;
  const loggedPerReason = new Map<IssueReason, number>();
  const seen = new Set<string>();
  const issues: Issue[] = [];
  let omitted = 0;
  let classes: string[] = [];
  let listed = 0;
  let fatal: string | undefined;
  let examples = 0;
  let empty = 0;
  let boxes = 0;
  let difficult = 0;
  let clipped = 0;
  const perLabel: number[] = [];
  const skippedExamples: Partial<Record<IssueReason, number>> = {};
  const skippedBoxes: Partial<Record<IssueReason, number>> = {};

  const count = (example: Example, sign: 1 | -1) => {
    examples += sign;
    if (example.labels.length === 0) empty += sign;
    boxes += sign * example.labels.length;
    for (let i = 0; i < example.labels.length; i++) {
      perLabel[example.labels[i]] = (perLabel[example.labels[i]] ?? 0) + sign;
      difficult += sign * example.difficult[i];
    }
  };

  const collector: ReportCollector = {
    issue(issue, once) {
      if (once != null) {
        if (seen.has(once)) return;
        seen.add(once);
      }
      if (issue.effect === 'example-skipped' || issue.effect === 'split-skipped') skippedExamples[issue.reason] = (skippedExamples[issue.reason] ?? 0) + 1;
      else if (issue.effect === 'box-skipped') skippedBoxes[issue.reason] = (skippedBoxes[issue.reason] ?? 0) + 1;
      else clipped++;
      if (issues.length < maxIssues) issues.push(issue);
      else omitted++;
      const logged = loggedPerReason.get(issue.reason) ?? 0;
      loggedPerReason.set(issue.reason, logged + 1);
      if (logged < maxLogged) log(`warning: ${formatIssue(issue)}`);
      else if (logged === maxLogged) log(`warning: further '${issue.reason}' issues in ${options.file} are counted, not printed (see the summary)`);
    },
    kept(example) {
      count(example, 1);
    },
    dropped(example, reason, message) {
      const key = `dropped:${example.id}`;
      if (seen.has(key)) return;
      count(example, -1);
      collector.issue({ reason, effect: 'example-skipped', file: example.imagePath, exampleId: example.id, message }, key);
    },
    setClasses(list) {
      classes = [...list];
    },
    setListed(n) {
      listed = n;
    },
    setFatal(message) {
      fatal = message;
    },
    snapshot() {
      const boxesPerClass: Record<string, number> = {};
      classes.forEach((name, i) => (boxesPerClass[name] = perLabel[i + 1] ?? 0));
      return {
        type: options.type,
        dir: options.dir,
        split: options.split,
        ...(options.role != null ? { role: options.role } : {}),
        file: options.file,
        classes: [...classes],
        listed,
        examples,
        emptyExamples: empty,
        boxes,
        difficultBoxes: difficult,
        boxesPerClass,
        clippedBoxes: clipped,
        skippedExamples: { ...skippedExamples },
        skippedBoxes: { ...skippedBoxes },
        ...(fatal != null ? { fatal } : {}),
        issues: [...issues],
        omittedIssues: omitted,
      };
    },
  };
  return collector;
}

function counts(record: Partial<Record<IssueReason, number>>): string {
  const present = ISSUE_REASONS.filter((reason) => (record[reason] ?? 0) > 0);
  return present.length === 0 ? 'none' : present.map((reason) => `${record[reason]} ${reason}`).join(', ');
}

/** A split's report as text: totals, skips by reason, per-class boxes, then the issues kept. */
export function formatDatasetReport(report: DatasetReport, options: { issues?: number } = {}): string {
  const name = report.role != null && report.role !== report.split ? `${report.role} (${report.split})` : report.split;
  const lines = [`${report.type} ${name}: ${report.file}`];
  if (report.fatal != null) lines.push(`  UNUSABLE: ${report.fatal}`);
  lines.push(
    `  images listed ${report.listed}, usable ${report.examples} (${report.emptyExamples} without boxes)`,
    `  boxes kept ${report.boxes} (${report.difficultBoxes} difficult/crowd), clipped to the image ${report.clippedBoxes}`,
    `  images skipped: ${counts(report.skippedExamples)}`,
    `  boxes skipped: ${counts(report.skippedBoxes)}`,
  );
  if (report.classes.length > 0) {
    lines.push(`  classes (${report.classes.length}): ${report.classes.map((c) => `${c} ${report.boxesPerClass[c] ?? 0}`).join(', ')}`);
  }
  const shown = report.issues.slice(0, options.issues ?? 20);
  for (const issue of shown) lines.push(`  - ${formatIssue(issue)}`);
  const hidden = report.issues.length - shown.length + report.omittedIssues;
  if (hidden > 0) lines.push(`  … ${hidden} more issue(s)`);
  return lines.join('\n');
}
