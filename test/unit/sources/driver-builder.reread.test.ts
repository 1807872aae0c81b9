/** The re-read window is declared per loop through the builder and checked there, once, at build time. */
import { describe, expect, it } from 'vitest';
import { driverBuilder, type LoopSpec } from '../../../lib/sources/driver.builder.js';
import { emptyBatch } from '../../../lib/domain/records.js';
import { libreLinkUpDriver } from '../../../lib/sources/librelinkup/librelinkup.source.js';
import { dexcomShareDriver } from '../../../lib/sources/dexcom-share/dexcom-share.source.js';

const HOUR = 60 * 60_000;

function loop(extra: Partial<LoopSpec<unknown, unknown, unknown>>): LoopSpec<unknown, unknown, unknown> {
  return {
    name: 'main', intervalMs: 300_000, align: { lagMs: 0, jitterMs: 0 }, attempts: 1,
    retry: { baseMs: 1_000, capMs: 1_000 }, backoff: { baseMs: 1_000, capMs: 1_000 }, maxLookbackMs: 12 * HOUR,
    fetch: async () => null, transform: () => emptyBatch(), ...extra,
  };
}

const register = (extra: Partial<LoopSpec<unknown, unknown, unknown>>) =>
  driverBuilder({ kind: 'test', device: 'test', parseSettings: () => ({}), checkCredentials: () => {} })
    .supportSession({ authenticate: async () => ({}), authorize: async () => ({ session: {} }), lifetimeMs: HOUR })
    .registerLoop(loop(extra))
    .build();

describe('re-read window in the driver builder', () => {
  it('keeps a valid window on the loop, and a loop without one has none', () => {
    expect(register({ reread: { windowMs: HOUR, sameReadingMs: 30_000 } }).loops[0].reread).toEqual({ windowMs: HOUR, sameReadingMs: 30_000 });
    expect(register({}).loops[0].reread).toBeUndefined();
  });

  it('refuses a negative window, one longer than the look-back, or a tolerance not shorter than the window', () => {
    expect(() => register({ reread: { windowMs: -1, sameReadingMs: 0 } })).toThrow(/re-read window/);
    expect(() => register({ reread: { windowMs: 13 * HOUR, sameReadingMs: 0 } })).toThrow(/look-back/);
    expect(() => register({ reread: { windowMs: Number.NaN, sameReadingMs: 0 } })).toThrow(/re-read window/);
    expect(() => register({ reread: { windowMs: HOUR, sameReadingMs: HOUR } })).toThrow(/tolerance/);
    expect(() => register({ reread: { windowMs: 0, sameReadingMs: 1 } })).toThrow(/tolerance/);
  });

  it('LibreLinkUp declares one hour (readings < 30 s apart are one); Dexcom Share declares none', () => {
    expect(libreLinkUpDriver.loops[0].reread).toEqual({ windowMs: HOUR, sameReadingMs: 30_000 });
    expect(dexcomShareDriver.loops.every((l) => l.reread === undefined)).toBe(true);
  });
});
