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
