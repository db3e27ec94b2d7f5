import fc from 'fast-check';
import { prefetching } from './prefetch';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('prefetching', () => {
  it('hands out items in order, skipping nulls, within the bounds, whatever the load times', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 4 }), skip: fc.boolean() }), { maxLength: 25 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        async (items, concurrency, prefetch, consumerDelay) => {
          let running = 0;
          let worst = 0;
          const source = prefetching(
            items.length,
            async (i) => {
              running++;
              await sleep(items[i].delay);
              running--;
              return items[i].skip ? null : i;
            },
            { concurrency, prefetch },
          );
          const seen: number[] = [];
          for (;;) {
            const s = source.stats();
            worst = Math.max(worst, s.inFlight + s.ready);
            expect(s.inFlight).toBeLessThanOrEqual(concurrency);
            expect(running).toBeLessThanOrEqual(concurrency);
            const next = await source.next();
            if (next.done) break;
            seen.push(next.value);
            await sleep(consumerDelay);
          }
          expect(worst).toBeLessThanOrEqual(prefetch);
          expect(seen).toEqual(items.flatMap((item, i) => (item.skip ? [] : [i])));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a slow consumer makes it hold at most `prefetch` items', async () => {
    let loaded = 0;
    const source = prefetching(
      100,
      async (i) => {
        loaded++;
        return i;
      },
      { concurrency: 3, prefetch: 5 },
    );
    await sleep(30);
    expect(loaded).toBe(5);
    expect(source.stats()).toEqual({ inFlight: 0, ready: 5, delivered: 0, started: 5 });
    for (let k = 0; k < 10; k++) {
      await source.next();
      await sleep(5);
      expect(loaded - source.stats().delivered).toBeLessThanOrEqual(5);
    }
    source.close();
    expect(await source.next()).toEqual({ done: true, value: undefined });
  });

  it('passes a load error to the consumer at its position, then stops', async () => {
    const source = prefetching(5, async (i) => {
      if (i === 2) throw new Error('boom');
      return i;
    }, { concurrency: 2, prefetch: 4 });
    expect((await source.next()).value).toBe(0);
    expect((await source.next()).value).toBe(1);
    await expect(source.next()).rejects.toThrow('boom');
    expect((await source.next()).done).toBe(true);
  });

  it('serves concurrent next() calls in order', async () => {
    const source = prefetching(4, async (i) => i, { concurrency: 1, prefetch: 1 });
    const values = await Promise.all([source.next(), source.next(), source.next(), source.next(), source.next()]);
    expect(values.map((v) => v.value)).toEqual([0, 1, 2, 3, undefined]);
  });
});
