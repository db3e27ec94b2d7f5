// @lumen/data: everything between files on disk and a training step (docs/architecture.md §3).
// Readers validate annotations (skipping and reporting, never failing a run), sharp decodes
// and resizes images on libuv's pool (or decodes, and torch's bilinear resizes in JS),
// augmentation is seeded per (seed, epoch, example), and the streams decode ahead of the
// consumer within `loader.prefetch`.
export type { DataConfig, DatasetType, DecodedExample, DigitsOptions, Example, Log, ResizeMode, Split, StandardSplit } from './types';
export { RESIZE_MODES, ROTATED_BOX_RULES, SPLITS } from './types';
export { splitNames } from './validate';

// Readers.
export { readVoc } from './voc';
export { readCoco } from './coco';
export { readCsv } from './csv';
export type { AnnotationReader, ReaderOptions } from './reader';

// Datasets and their reports.
export { openDataset } from './dataset';
export type { Dataset, OpenOptions } from './dataset';
export { ISSUE_REASONS, createReportCollector, formatDatasetReport, formatIssue } from './report';
export type { DatasetReport, Issue, IssueEffect, IssueReason, ReportCollector, ReportOptions } from './report';
export { checkDataset, formatCheckReport } from './check';
export type { CheckOptions, CheckReport, ImageCheck } from './check';

// Images.
export { IMAGE_EXTENSIONS } from './util';
export { decodeImage, resizedSize, torchvisionScale } from './decode';
export { interpolateBilinear } from './interpolate';
export type { DecodedImage, ResizeRule } from './decode';

// Augmentation and box transforms.
export { CROP_ATTEMPTS, colourMatrix, planAugmentation } from './augment';
export type { AugmentConfig, AugmentPlan } from './augment';
export { checkBox, cropBoxes, flipBoxes, scaleBoxes } from './boxes';
export type { BoxCheck, Window } from './boxes';
export { rotateBoxes, rotationWindow } from './rotate';
export type { RotationWindow } from './rotate';
export { CHANNEL_PERMUTATIONS } from './effects';
export { decodeExample, SkipExample } from './pipeline';

// Streams.
export { epochOrder, evalExamples, evalStream, trainingExamples, trainingStream } from './stream';
export type { EvalStreamOptions, ExampleIterator, TrainingStreamOptions } from './stream';
export { prefetching } from './prefetch';
export type { PrefetchBounds, PrefetchSource, PrefetchStats } from './prefetch';
export { mixSeed } from './random';

// The digits dataset.
export { DEFAULT_DIGITS, DIGIT_CLASSES, DIGITS_SPLITS, ensureDigits, generateDigits } from './digits/generate';
export type { DigitsSplit, DigitsSummary } from './digits/generate';
export { INK_THRESHOLD, renderDigitsImage } from './digits/render';
export type { RenderedDigit, RenderedImage } from './digits/render';
export { renderShiftImage, SHIFT_DEFAULTS } from './digits/shift-render';
export type { ShiftDigit, ShiftImage, ShiftOptions } from './digits/shift-render';
export { glyphRanges, loadMnist } from './digits/mnist';
export type { GlyphBank, GlyphRange } from './digits/mnist';
