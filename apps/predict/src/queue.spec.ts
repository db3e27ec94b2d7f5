import { ModelQueue } from './queue';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ModelQueue', () => {
  it('runs jobs one at a time in arrival order', async () => {
    const queue = new ModelQueue(4);
    const events: string[] = [];
    const jobs = [15, 1, 5].map((ms, i) => {
      const ticket = queue.enter();
      if (ticket == null) throw new Error('queue full');
      return ticket
        .run(async () => {
          events.push(`start ${i}`);
          expect(queue.stats().running).toBe(1);
          await sleep(ms);
          events.push(`end ${i}`);
          return i;
        })
        .finally(() => ticket.leave());
    });
    expect(await Promise.all(jobs)).toEqual([0, 1, 2]);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(queue.stats()).toEqual({ admitted: 0, running: 0, size: 4 });
  });

  it('admits size + 1 requests (one on the model), refuses more until one leaves', async () => {
    const queue = new ModelQueue(1);
    const a = queue.enter();
    const b = queue.enter();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(queue.enter()).toBeNull();
    a?.leave();
    a?.leave(); // leaving twice gives back one place
    expect(queue.stats().admitted).toBe(1);
    expect(queue.enter()).not.toBeNull();
    expect(queue.enter()).toBeNull();
  });

  it('a failing job does not stop the ones after it', async () => {
    const queue = new ModelQueue(2);
    const [a, b] = [queue.enter(), queue.enter()];
    if (a == null || b == null) throw new Error('queue full');
    const first = a.run(async () => {
      throw new Error('bad');
    });
    const second = b.run(async () => 'ok');
    await expect(first).rejects.toThrow('bad');
    await expect(second).resolves.toBe('ok');
  });
});
