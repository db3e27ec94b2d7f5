/**
 * Seeded boxes shaped like a detector's: the same draws in the same order on every run and
 * machine, so Lumen and its peer see the same numbers.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * What the RPN hands on after top-k, decode and clip: 80% jittered around a dozen objects
 * (centre ±25% of the object's size, size ×e^±0.35), the rest anchor-sized boxes anywhere.
 * With `scores`, each box also gets a sigmoid score, higher on the objects than off them.
 */
export function proposalBoxes(random: () => number, count: number, image: ImageSize, withScores: boolean): { boxes: Float32Array; scores: Float32Array } {
  const objects = Array.from({ length: 12 }, () => ({
    cx: random() * image.width,
    cy: random() * image.height,
    w: 40 + random() * 360,
    h: 40 + random() * 300,
  }));
  const boxes = new Float32Array(count * 4);
  const scores = new Float32Array(withScores ? count : 0);
  const clipX = (v: number) => Math.min(image.width, Math.max(0, v));
  const clipY = (v: number) => Math.min(image.height, Math.max(0, v));
  for (let i = 0; i < count; i++) {
    let cx: number, cy: number, w: number, h: number, logitMean: number;
    if (random() < 0.8) {
      const o = objects[Math.floor(random() * objects.length)];
      cx = o.cx + gaussian(random) * 0.25 * o.w;
      cy = o.cy + gaussian(random) * 0.25 * o.h;
      w = o.w * Math.exp(gaussian(random) * 0.35);
      h = o.h * Math.exp(gaussian(random) * 0.35);
      logitMean = 1;
    } else {
      const size = [32, 64, 128, 256, 512][Math.floor(random() * 5)];
      const ratio = [0.5, 1, 2][Math.floor(random() * 3)];
      cx = random() * image.width;
      cy = random() * image.height;
      w = size / Math.sqrt(ratio);
      h = size * Math.sqrt(ratio);
      logitMean = -1;
    }
    if (withScores) scores[i] = 1 / (1 + Math.exp(-(logitMean + gaussian(random))));
    boxes.set([clipX(cx - w / 2), clipY(cy - h / 2), clipX(cx + w / 2), clipY(cy + h / 2)], 4 * i);
  }
  return { boxes, scores };
}

/** Boxes wholly inside the image, their width and height uniform in the given [min, max] ranges. */
export function groundTruthBoxes(
  random: () => number,
  count: number,
  image: ImageSize,
  sizes: { width: [number, number]; height: [number, number] },
): Float32Array {
  const out = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const w = sizes.width[0] + random() * (sizes.width[1] - sizes.width[0]);
    const h = sizes.height[0] + random() * (sizes.height[1] - sizes.height[0]);
    const x = random() * (image.width - w);
    const y = random() * (image.height - h);
    out.set([x, y, x + w, y + h], 4 * i);
  }
  return out;
}
