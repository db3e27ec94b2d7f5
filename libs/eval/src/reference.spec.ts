import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvaluator } from './index';
import type { ImageEntry } from './index';

// Reference numbers from tools/fixtures/eval_fixtures.py: py-faster-rcnn's voc_eval / voc_ap
// and pycocotools' COCOeval (bbox) re-implemented in Python from their sources, run on seeded
// random data (5 classes, one without ground truth; difficult and crowd flags; empty images;
// an image with 130 detections; tied scores).

type PerClass = Record<string, number | null>;
interface Expected {
  voc07: { mAP: number; perClass: PerClass };
  voc: { mAP: number; perClass: PerClass };
  coco: Record<string, number> & { perClass: PerClass; perClassAP50: PerClass };
}

const load = <T>(name: string): T => JSON.parse(readFileSync(join(__dirname, 'fixtures', name), 'utf8')) as T;
const data = load<{ classes: string[]; images: ImageEntry[] }>('random.json');
const expected = load<Expected>('expected.json');

function defined<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value');
  return value;
}

function expectPerClass(actual: PerClass, want: PerClass): void {
  expect(Object.keys(actual)).toEqual(Object.keys(want));
  for (const [name, v] of Object.entries(want)) {
    if (v === null) expect(actual[name]).toBeNull();
    else expect(Math.abs((actual[name] as number) - v)).toBeLessThan(1e-6);
  }
}

describe('reference fixtures (tools/fixtures/eval_fixtures.py)', () => {
  const ev = createEvaluator({ classes: data.classes, metrics: ['voc07', 'voc', 'coco'] });
  data.images.forEach((im) => ev.add(im));
  const s = ev.summarize();

  it('covers what it claims to', () => {
    expect(data.images.length).toBe(70);
    const counts = data.images.map((im) => (im.detections?.boxes ?? []).length);
    expect(Math.max(...counts)).toBeGreaterThan(100);
    expect(counts.filter((n) => n === 0).length).toBeGreaterThan(2);
    expect(data.images.some((im) => im.groundTruth?.difficult?.some(Boolean))).toBe(true);
    expect(data.images.some((im) => im.groundTruth?.iscrowd?.some(Boolean))).toBe(true);
    expect(s.numGroundTruths['kite']).toBe(0);
  });

  it.each(['voc07', 'voc'] as const)('%s: per-class AP and mAP match py-faster-rcnn to 1e-6', (variant) => {
    const got = defined(s[variant]);
    expectPerClass(got.perClass, expected[variant].perClass);
    expect(Math.abs(defined(got.mAP) - expected[variant].mAP)).toBeLessThan(1e-6);
  });

  it.each(['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const)(
    'coco %s matches COCOeval to 1e-6',
    (key) => {
      expect(expected.coco[key]).toBeGreaterThan(0);
      expect(Math.abs(defined(s.coco)[key] - expected.coco[key])).toBeLessThan(1e-6);
    },
  );

  it('coco per-class AP@[.5:.95] and AP50 match', () => {
    expectPerClass(defined(s.coco).perClass, expected.coco.perClass);
    expectPerClass(defined(s.coco).perClassAP50, expected.coco.perClassAP50);
  });

  it('does not depend on how the images are split between summaries (streaming)', () => {
    const partial = createEvaluator({ classes: data.classes });
    data.images.slice(0, 30).forEach((im) => partial.add(im));
    const early = partial.summarize();
    data.images.slice(30).forEach((im) => partial.add(im));
    expect(partial.summarize()).toEqual(s);
    expect(early.numImages).toBe(30);
  });
});
