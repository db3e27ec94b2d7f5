import { seededRandom } from '@lumen/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { mergeMapInOrder, Slots } from './ordered';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mergeMapInOrder', () => {
  it('runs at most `concurrency` projects and emits in source order', async () => {
    const random = seededRandom(5);
    const delays = Array.from({ length: 30 }, () => Math.floor(random() * 8));
    let running = 0;
    let most = 0;
    const out = await lastValueFrom(
      from(delays).pipe(
        mergeMapInOrder(async (delay, index) => {
          running++;
          most = Math.max(most, running);
          await sleep(delay);
          running--;
          return index * 10;
        }, 3),
        toArray(),
      ),
    );
    expect(out).toEqual(delays.map((_, i) => i * 10));
    expect(most).toBe(3);
  });

  it('passes errors on', async () => {
    const failing = from([1, 2, 3]).pipe(
      mergeMapInOrder(async (n) => {
        if (n === 2) throw new Error('boom');
        return n;
      }, 2),
    );
    await expect(lastValueFrom(failing)).rejects.toThrow('boom');
  });
});

describe('Slots', () => {
  it('hands slots over in FIFO order and never exceeds its size', async () => {
    const slots = new Slots(2);
    const order: number[] = [];
    await slots.acquire();
    await slots.acquire();
    expect(slots.taken).toBe(2);
    const waiting = [1, 2, 3].map((n) => slots.acquire().then(() => order.push(n)));
    slots.release();
    await sleep(0);
    expect(order).toEqual([1]);
    slots.release();
    slots.release();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(slots.taken).toBe(2);
    slots.release();
    slots.release();
    slots.release(); // extra releases do not add slots
    expect(slots.taken).toBe(0);
    expect(() => new Slots(0)).toThrow("Error in Slots: 'size' must be a positive integer, but got 0.");
  });
});
