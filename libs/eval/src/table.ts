import type { EvalSummary } from './evaluator';

// A plain-text table for logs and terminals: one row per class with each metric's AP, the
// means below, then COCO's twelve numbers the way pycocotools prints them.

function pct(v: number | null | undefined): string {
  return v === null || v === undefined || v === -1 ? '-' : (100 * v).toFixed(1);
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

/** The summary as a table (AP in percent, '-' where undefined, e.g. a class without ground truth). */
export function formatSummary(s: EvalSummary): string {
  const columns: { title: string; perClass: (name: string) => number | null; mean: number | null }[] = [];
  const { voc07, voc, coco } = s;
  if (voc07) columns.push({ title: 'VOC07 AP50', perClass: (n) => voc07.perClass[n], mean: voc07.mAP });
  if (voc) columns.push({ title: 'VOC AP50', perClass: (n) => voc.perClass[n], mean: voc.mAP });
  if (coco) {
    columns.push({ title: 'COCO AP', perClass: (n) => coco.perClass[n], mean: coco.AP });
    columns.push({ title: 'COCO AP50', perClass: (n) => coco.perClassAP50[n], mean: coco.AP50 });
  }
  const header = ['class', 'gt', 'det', ...columns.map((c) => c.title)];
  const rows = s.classes.map((name) => [
    name,
    String(s.numGroundTruths[name]),
    String(s.numDetections[name]),
    ...columns.map((c) => pct(c.perClass(name))),
  ]);
  const sum = (r: Record<string, number>) => String(Object.values(r).reduce((a, b) => a + b, 0));
  const mean = ['mean', sum(s.numGroundTruths), sum(s.numDetections), ...columns.map((c) => pct(c.mean))];
  const widths = header.map((h, i) => Math.max(h.length, mean[i].length, ...rows.map((r) => r[i].length)));
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [`${s.numImages} image${s.numImages === 1 ? '' : 's'}`, pad(header, widths), rule, ...rows.map((r) => pad(r, widths)), rule, pad(mean, widths)];
  if (coco) {
    const c = coco;
    const line = (kind: string, iou: string, area: string, dets: number, v: number) =>
      ` ${kind.padEnd(18)} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(dets).padStart(3)} ] = ${v.toFixed(3)}`;
    const ap = 'Average Precision  (AP)';
    const ar = 'Average Recall     (AR)';
    lines.push(
      '',
      line(ap, '0.50:0.95', 'all', 100, c.AP),
      line(ap, '0.50', 'all', 100, c.AP50),
      line(ap, '0.75', 'all', 100, c.AP75),
      line(ap, '0.50:0.95', 'small', 100, c.APs),
      line(ap, '0.50:0.95', 'medium', 100, c.APm),
      line(ap, '0.50:0.95', 'large', 100, c.APl),
      line(ar, '0.50:0.95', 'all', 1, c.AR1),
      line(ar, '0.50:0.95', 'all', 10, c.AR10),
      line(ar, '0.50:0.95', 'all', 100, c.AR100),
      line(ar, '0.50:0.95', 'small', 100, c.ARs),
      line(ar, '0.50:0.95', 'medium', 100, c.ARm),
      line(ar, '0.50:0.95', 'large', 100, c.ARl),
    );
  }
  return lines.join('\n');
}
