import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A JSON file written by tools/fixtures/heads_fixtures.py (torchvision's answers). */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8')) as T;
}

/** Largest |a - b| / max(1, |b|); null in `expected` (torchvision's NaN) must meet `nullAs`. */
export function relativeError(actual: ArrayLike<number>, expected: ReadonlyArray<number | null>, nullAs = NaN): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const want = expected[i] ?? nullAs;
    if (Number.isNaN(want)) {
      if (!Number.isNaN(actual[i])) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(actual[i] - want) / Math.max(1, Math.abs(want)));
  }
  return worst;
}

/** The one item of a fixture list that `matches`; a missing case fails the test. */
export function findCase<T>(items: readonly T[], matches: (item: T) => boolean): T {
  const found = items.find(matches);
  if (found === undefined) throw new Error('fixture case not found: regenerate with tools/fixtures/heads_fixtures.py');
  return found;
}

/** What the torch-to-Lumen conversion reads of a parameter spec. */
export interface LayoutSpec {
  kind: string;
  shape: number[];
  flattenFrom?: [number, number, number];
}

/**
 * A torchvision tensor in Lumen's layout, as weight import converts it: conv OIHW -> HWIO;
 * linear [out, in] -> [in, out], its input features from NCHW- to NHWC-flatten order when
 * `flattenFrom` says the layer reads a flattened map; anything else as is.
 */
export function fromTorchLayout(spec: LayoutSpec, torch: readonly number[]): Float32Array {
  const out = new Float32Array(torch.length);
  if (spec.kind === 'conv') {
    const [kh, kw, inC, outC] = spec.shape;
    for (let o = 0; o < outC; o++) {
      for (let i = 0; i < inC; i++) {
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * inC + i) * outC + o] = torch[((o * inC + i) * kh + y) * kw + x];
      }
    }
    return out;
  }
  if (spec.kind === 'linear') {
    const [inF, outF] = spec.shape;
    const [c, h, w] = spec.flattenFrom ?? [inF, 1, 1];
    for (let o = 0; o < outF; o++) {
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) out[(p * c + ch) * outF + o] = torch[o * inF + ch * h * w + p];
      }
    }
    return out;
  }
  out.set(torch);
  return out;
}

/**
 * tfjs' gradient registry, for specs that differentiate. The `@tensorflow/tfjs-core` Node
 * bundle registers no gradients; `initBackend()` of @lumen/runtime loads them in programs,
 * but a library may not depend on runtime, so its specs load tfjs' own (specs only:
 * src/testing is not part of the build).
 */
export function registerTfjsGradients(): void {
  // eslint-disable-next-line @nx/enforce-module-boundaries -- specs only: the union package registers tfjs' gradients
  require('@tensorflow/tfjs');
}
