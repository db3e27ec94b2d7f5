// Top-k selection on typed arrays: the RPN keeps the 12 000 best of ~28 000 anchors per
// image. Each float32 score maps to an order-preserving 32-bit key packed with its index
// into one exact double, so a quickselect plus a native Float64Array sort of the k best
// does what torch's `topk(k, sorted=True)` does.

/** 2^21: indices below this pack next to a 32-bit score key in a double (exactly). */
const INDEX_SPAN = 2097152;
const keyBits = new Uint32Array(1);
const keyFloat = new Float32Array(keyBits.buffer);

/** Moves the `k` smallest of `a` into a[0, k) (in no particular order). Keys are distinct. */
function selectSmallest(a: Float64Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1;
  while (lo < hi) {
    // Median of three as the pivot: the keys arrive in anchor order, often partly sorted.
    const mid = (lo + hi) >> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return;
  }
}

/**
 * Indices of the `k` largest `scores`, largest first; equal scores lower index first
 * (torch leaves the order of ties to its sort). `scores` must not hold NaN.
 */
export function topIndices(scores: Float32Array, k: number): Int32Array {
  const n = scores.length;
  const count = Math.max(0, Math.min(k, n));
  const out = new Int32Array(count);
  if (count === 0) return out;
  if (n >= INDEX_SPAN) {
    const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    out.set(order.subarray(0, count));
    return out;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keyFloat[0] = scores[i] + 0; // -0 ranks with +0
    const bits = keyBits[0];
    const ascending = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - ascending) * INDEX_SPAN + i;
  }
  if (count < n) selectSmallest(keys, count);
  const best = keys.subarray(0, count).sort();
  for (let p = 0; p < count; p++) out[p] = best[p] % INDEX_SPAN;
  return out;
}
