import { createReportCollector, formatDatasetReport, formatIssue } from './report';
import { logLines } from './testing/helpers';

describe('createReportCollector', () => {
  const issue = (n: number) => ({ reason: 'degenerate-box' as const, effect: 'box-skipped' as const, file: 'a.xml', line: n, message: `box ${n} has x2 <= x1` });

  it('logs each issue up to the per-reason limit, then counts', () => {
    const { log, lines } = logLines();
    const report = createReportCollector({ type: 'voc', dir: 'd', split: 'train', file: 'list.txt', log, maxLoggedPerReason: 3, maxIssues: 4 });
    for (let i = 1; i <= 10; i++) report.issue(issue(i));
    expect(lines).toEqual([
      'warning: a.xml:1: box 1 has x2 <= x1 (box skipped)',
      'warning: a.xml:2: box 2 has x2 <= x1 (box skipped)',
      'warning: a.xml:3: box 3 has x2 <= x1 (box skipped)',
      "warning: further 'degenerate-box' issues in list.txt are counted, not printed (see the summary)",
    ]);
    const snapshot = report.snapshot();
    expect(snapshot.skippedBoxes).toEqual({ 'degenerate-box': 10 });
    expect(snapshot.issues).toHaveLength(4);
    expect(snapshot.omittedIssues).toBe(6);
  });

  it('counts kept examples per class and subtracts dropped ones once', () => {
    const report = createReportCollector({ type: 'csv', dir: 'd', split: 'train', file: 'train.csv', log: () => undefined });
    report.setClasses(['cat', 'dog']);
    const example = { id: 'a', imagePath: 'a.jpg', width: 10, height: 10, boxes: new Float32Array(8), labels: Int32Array.from([1, 2]), difficult: Uint8Array.from([0, 1]) };
    const empty = { ...example, id: 'b', boxes: new Float32Array(0), labels: new Int32Array(0), difficult: new Uint8Array(0) };
    report.kept(example);
    report.kept(empty);
    expect(report.snapshot()).toMatchObject({ examples: 2, emptyExamples: 1, boxes: 2, difficultBoxes: 1, boxesPerClass: { cat: 1, dog: 1 } });
    report.dropped(example, 'undecodable-image', 'broken');
    report.dropped(example, 'undecodable-image', 'broken');
    expect(report.snapshot()).toMatchObject({ examples: 1, boxes: 0, boxesPerClass: { cat: 0, dog: 0 }, skippedExamples: { 'undecodable-image': 1 } });
  });

  it('formats issues and reports', () => {
    expect(formatIssue({ reason: 'unknown-class', effect: 'box-skipped', file: 'x.json', annotation: 'annotation 7', message: 'unknown class "zebra"' })).toBe(
      'x.json [annotation 7]: unknown class "zebra" (box skipped)',
    );
    const report = createReportCollector({ type: 'coco', dir: 'd', split: 'train2017', role: 'train', file: 'x.json', log: () => undefined });
    report.setClasses(['cat']);
    report.setListed(3);
    expect(formatDatasetReport(report.snapshot())).toBe(
      [
        'coco train (train2017): x.json',
        '  images listed 3, usable 0 (0 without boxes)',
        '  boxes kept 0 (0 difficult/crowd), clipped to the image 0',
        '  images skipped: none',
        '  boxes skipped: none',
        '  classes (1): cat 0',
      ].join('\n'),
    );
  });
});
