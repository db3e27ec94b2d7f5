import { seededRandom } from '@lumen/core';
import { mixSeed, shuffleInPlace } from './random';

describe('mixSeed', () => {
  it('separates nearby inputs and keeps large seeds apart', () => {
    const seeds = new Set<number>();
    for (let a = 0; a < 20; a++) for (let b = 0; b < 20; b++) seeds.add(mixSeed(a, b));
    expect(seeds.size).toBe(400);
    expect(mixSeed(2 ** 40)).not.toBe(mixSeed(0));
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
  });
});

describe('shuffleInPlace', () => {
  it('permutes', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    shuffleInPlace(items, seededRandom(1));
    expect([...items].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(items).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
