// Delays and visibility timeouts as SQS accepts them (the queue against fauxqs is
// test/integration/sqs-message.queue.int.test.ts).
import { describe, expect, it } from 'vitest';
import { clampSeconds } from '../../../lib/adapters/aws/sqs-message.queue.js';

describe('clampSeconds', () => {
  it('clamps delays and visibility timeouts to what SQS accepts', () => {
    expect(clampSeconds(-5, 900)).toBe(0);
    expect(clampSeconds(Number.NaN, 900)).toBe(0);
    expect(clampSeconds(0.1, 900)).toBe(1);
    expect(clampSeconds(5_000, 900)).toBe(900);
    expect(clampSeconds(Number.POSITIVE_INFINITY, 43_200)).toBe(43_200);
  });
});
