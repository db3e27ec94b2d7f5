import { createEvaluator, formatSummary } from './index';

describe('formatSummary', () => {
  const ev = createEvaluator({ classes: ['cat', 'dog', 'kite'] });
  ev.add({
    imageId: 1,
    detections: { boxes: [[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 5, 5]], scores: [0.9, 0.8, 0.7], labels: [1, 2, 3] },
    groundTruth: { boxes: [[0, 0, 10, 10], [100, 100, 110, 110]], labels: [1, 2] },
  });
  const lines = formatSummary(ev.summarize()).split('\n');

  it('has a row per class with its counts and AP (percent) beside the means', () => {
    expect(lines[0]).toBe('1 image');
    expect(lines[1].split(/\s{2,}/)).toEqual(['class', 'gt', 'det', 'VOC07 AP50', 'VOC AP50', 'COCO AP', 'COCO AP50']);
    expect(lines[3].split(/\s+/)).toEqual(['cat', '1', '1', '100.0', '100.0', '100.0', '100.0']);
    expect(lines[4].split(/\s+/)).toEqual(['dog', '1', '1', '0.0', '0.0', '0.0', '0.0']);
    expect(lines[5].split(/\s+/)).toEqual(['kite', '0', '1', '-', '-', '-', '-']);
    expect(lines[7].split(/\s+/)).toEqual(['mean', '2', '3', '50.0', '50.0', '50.0', '50.0']);
  });

  it("prints COCO's twelve numbers as pycocotools does", () => {
    expect(lines).toContain(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500');
    expect(lines).toContain(' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000');
    expect(lines.filter((l) => l.startsWith(' Average'))).toHaveLength(12);
  });

  it('leaves out the metrics not computed', () => {
    const only = createEvaluator({ classes: ['cat'], metrics: ['voc07'] });
    const text = formatSummary(only.summarize());
    expect(text).toContain('VOC07 AP50');
    expect(text).not.toContain('COCO');
  });
});
