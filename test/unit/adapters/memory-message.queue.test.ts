import { describe, expect, it } from 'vitest';
import {
  jsonRoundTrip,
  MemoryQueue,
  MemoryRedeliveryControl,
} from '../../../lib/adapters/memory/memory-message.queue.js';
import { SourceRejectedError } from '../../../lib/domain/errors.js';

interface Body {
  n: number;
  note?: string;
}

function setup(opts: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}) {
  const clock = {
    t: 1_000_000,
    now() {
      return this.t;
    },
  };
  const dlq = new MemoryQueue<Body>({ name: 'frames-dlq', clock, visibilityTimeoutSeconds: 30, maxReceiveCount: 1000 });
  const queue = new MemoryQueue<Body>({
    name: 'frames',
    clock,
    visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 30,
    maxReceiveCount: opts.maxReceiveCount ?? 3,
    dlq,
  });
  return { clock, queue, dlq };
}

describe('MemoryQueue', () => {
  it('holds a delayed message until its delay has passed', async () => {
    const { clock, queue } = setup();
    await queue.send([
      { body: { n: 1 }, delaySeconds: 60 },
      { body: { n: 2 }, delaySeconds: 0 },
    ]);

    expect(queue.receive(10).map((m) => m.body.n)).toEqual([2]);
    expect(queue.nextVisibleAt()).toBe(clock.t + 30_000); // n=2 in flight comes back first
    clock.t += 59_999;
    expect(queue.receive(10).map((m) => m.body.n)).toEqual([2]); // redelivered after its 30 s visibility timeout
    clock.t += 1;
    expect(queue.receive(10).map((m) => m.body.n)).toEqual([1]);
  });

  it('clamps delays to 900 s and rounds fractional seconds up', async () => {
    const { clock, queue } = setup();
    await queue.send([
      { body: { n: 1 }, delaySeconds: 5_000 },
      { body: { n: 2 }, delaySeconds: 0.2 },
    ]);
    expect(queue.nextVisibleAt()).toBe(clock.t + 1_000);
    clock.t += 1_000;
    const [early] = queue.receive();
    expect(early.body.n).toBe(2);
    queue.delete(early.receiptHandle);
    clock.t += 899_000 - 1;
    expect(queue.receive()).toEqual([]);
    clock.t += 1;
    expect(queue.receive().map((m) => m.body.n)).toEqual([1]);
  });

  it('returns visible messages oldest first, at most max (capped at 10)', async () => {
    const { clock, queue } = setup();
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    clock.t += 1;
    await queue.send(Array.from({ length: 12 }, (_, i) => ({ body: { n: i + 2 }, delaySeconds: 0 })));
    expect(queue.receive(2).map((m) => m.body.n)).toEqual([1, 2]);
    expect(queue.receive(50)).toHaveLength(10);
    expect(queue.receive(50).map((m) => m.body.n)).toEqual([13]);
  });

  it('hides a received message for the visibility timeout and counts receives', async () => {
    const { clock, queue } = setup({ maxReceiveCount: 10 });
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    const first = queue.receive(1);
    expect(first[0]).toMatchObject({ receiveCount: 1, sentAt: 1_000_000 });
    expect(queue.receive(1)).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, delayed: 0, inFlight: 1 });
    clock.t += 30_000;
    const second = queue.receive(1);
    expect(second[0]).toMatchObject({ receiveCount: 2, messageId: first[0].messageId });
    expect(second[0].receiptHandle).not.toBe(first[0].receiptHandle);
  });

  it('ignores a stale receipt handle and deletes with the current one', async () => {
    const { clock, queue } = setup();
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    const [stale] = queue.receive(1);
    clock.t += 30_000;
    const [current] = queue.receive(1);

    expect(queue.delete(stale.receiptHandle)).toBe(false);
    expect(queue.depth()).toBe(1);
    expect(queue.delete(current.receiptHandle)).toBe(true);
    expect(queue.depth()).toBe(0);
    expect(queue.nextVisibleAt()).toBeUndefined();
  });

  it('changeVisibility pushes the next delivery out, via MemoryRedeliveryControl too', async () => {
    const { clock, queue } = setup();
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    const [m] = queue.receive(1);
    await new MemoryRedeliveryControl(queue).retryAfter(m.receiptHandle, 120);
    clock.t += 119_999;
    expect(queue.receive(1)).toEqual([]);
    clock.t += 1;
    expect(queue.receive(1)).toHaveLength(1);
  });

  it('changeVisibility(0) makes a message visible at once', async () => {
    const { queue } = setup();
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    const [m] = queue.receive(1);
    expect(queue.changeVisibility(m.receiptHandle, 0)).toBe(true);
    expect(queue.receive(1)[0].receiveCount).toBe(2);
  });

  it('moves a message to the DLQ on exactly the (maxReceiveCount + 1)-th receive', async () => {
    const { clock, queue, dlq } = setup({ maxReceiveCount: 3 });
    await queue.send([{ body: { n: 7 }, delaySeconds: 0 }]);
    for (let i = 1; i <= 3; i++) {
      const got = queue.receive(1);
      expect(got.map((m) => m.receiveCount)).toEqual([i]);
      expect(dlq.depth()).toBe(0);
      clock.t += 30_000;
    }
    expect(queue.receive(1)).toEqual([]);
    expect(queue.depth()).toBe(0);
    expect(dlq.depth()).toBe(1);
    const [dead] = dlq.receive(1);
    // The failed 4th attempt counts, and the original send time is kept (as in SQS).
    expect(dead).toMatchObject({ body: { n: 7 }, receiveCount: 5, sentAt: 1_000_000 });
  });

  it('delivers the next message in the same receive when one moves to the DLQ', async () => {
    const { clock, queue, dlq } = setup({ maxReceiveCount: 1 });
    await queue.send([{ body: { n: 1 }, delaySeconds: 0 }]);
    queue.receive(1);
    clock.t += 30_000;
    await queue.send([{ body: { n: 2 }, delaySeconds: 0 }]);
    expect(queue.receive(1).map((m) => m.body.n)).toEqual([2]);
    expect(dlq.depth()).toBe(1);
  });

  it('redriveAllTo moves DLQ messages back with the receive count reset', async () => {
    const { clock, queue, dlq } = setup({ maxReceiveCount: 1 });
    await queue.send([
      { body: { n: 1 }, delaySeconds: 0 },
      { body: { n: 2 }, delaySeconds: 0 },
    ]);
    queue.receive(10);
    clock.t += 30_000;
    queue.receive(10);
    expect(dlq.depth()).toBe(2);

    expect(dlq.redriveAllTo(queue)).toBe(2);
    expect(dlq.depth()).toBe(0);
    const back = queue.receive(10);
    expect(back.map((m) => [m.body.n, m.receiveCount])).toEqual([
      [1, 1],
      [2, 1],
    ]);
  });

  it('JSON-round-trips bodies: receivers get a copy, undefined fields vanish', async () => {
    const { queue } = setup();
    const body: Body = { n: 1, note: undefined };
    await queue.send([{ body, delaySeconds: 0 }]);
    body.n = 99;
    const [m] = queue.receive(1);
    expect(m.body).toEqual({ n: 1 });
    expect('note' in m.body).toBe(false);
  });

  it('refuses bodies that JSON would silently change', async () => {
    const { queue } = setup();
    const bad: unknown[] = [
      { at: new Date(0) },
      { n: Number.NaN },
      { xs: [1, undefined] },
      { m: new Map() },
      { f: () => 1 },
      { b: 1n },
    ];
    for (const body of bad) {
      await expect(queue.send([{ body: body as Body, delaySeconds: 0 }])).rejects.toBeInstanceOf(SourceRejectedError);
    }
    expect(queue.depth()).toBe(0);
    expect(() => jsonRoundTrip({ deep: { at: new Date(0) } })).toThrow(/\$\.deep\.at/);
    expect(jsonRoundTrip({ a: [1, 'x', null, { b: true }] })).toEqual({ a: [1, 'x', null, { b: true }] });
  });

  it('rejects a whole batch when one body is bad, enqueueing nothing', async () => {
    const { queue } = setup();
    await expect(
      queue.send([
        { body: { n: 1 }, delaySeconds: 0 },
        { body: { n: Infinity }, delaySeconds: 0 },
      ]),
    ).rejects.toThrow(/not JSON-safe/);
    expect(queue.depth()).toBe(0);
  });
});
