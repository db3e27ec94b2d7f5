import * as names from './kernel-names';

describe('kernel names', () => {
  it('are distinct, Lumen-prefixed and equal to their export name (the runtime registers them by value)', () => {
    const entries = Object.entries(names);
    expect(entries.length).toBe(11);
    for (const [exported, value] of entries) {
      expect(value).toBe(exported);
      expect(value.startsWith('Lumen')).toBe(true);
    }
  });
});
