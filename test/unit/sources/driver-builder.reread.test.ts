/** The re-read window is declared per loop in the vendor's schedule and checked there, every time a schedule is made. */
import { describe, expect, it } from 'vitest';
import type { LoopSchedule } from '../../../lib/ports/driver.port.js';
import { dexcomShareSource } from '../../../lib/sources/dexcom-share/dexcom-share.source.js';
import { dexcomShareVendor } from '../../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { assembleDriver, checkSchedule } from '../../../lib/sources/driver.builder.js';
import { libreLinkUpSource } from '../../../lib/sources/librelinkup/librelinkup.source.js';
import { libreLinkUpVendor } from '../../../lib/sources/librelinkup/librelinkup.vendor.js';
import { defineVendor } from '../../../lib/sources/vendor.declaration.js';

const HOUR = 60 * 60_000;

function loop(extra: Partial<LoopSchedule>): LoopSchedule {
  return {
    name: 'main',
    intervalMs: 300_000,
    align: { lagMs: 0, jitterMs: 0 },
    attempts: 1,
    retry: { baseMs: 1_000, capMs: 1_000 },
    backoff: { baseMs: 1_000, capMs: 1_000 },
    maxLookbackMs: 12 * HOUR,
    ...extra,
  };
}

const register = (extra: Partial<LoopSchedule>) => {
  const declared = loop(extra);
  checkSchedule('test', [declared]);
  return declared;
};

describe('re-read window in a declared schedule', () => {
  it('keeps a valid window on the loop, and a loop without one has none', () => {
    expect(register({ reread: { windowMs: HOUR, sameReadingMs: 30_000 } }).reread).toEqual({
      windowMs: HOUR,
      sameReadingMs: 30_000,
    });
    expect(register({}).reread).toBeUndefined();
  });

  it('refuses a negative window, one longer than the look-back, or a tolerance not shorter than the window', () => {
    expect(() => register({ reread: { windowMs: -1, sameReadingMs: 0 } })).toThrow(/re-read window/);
    expect(() => register({ reread: { windowMs: 13 * HOUR, sameReadingMs: 0 } })).toThrow(/look-back/);
    expect(() => register({ reread: { windowMs: Number.NaN, sameReadingMs: 0 } })).toThrow(/re-read window/);
    expect(() => register({ reread: { windowMs: HOUR, sameReadingMs: HOUR } })).toThrow(/tolerance/);
    expect(() => register({ reread: { windowMs: 0, sameReadingMs: 1 } })).toThrow(/tolerance/);
  });

  it('is checked whenever a vendor makes its schedule', () => {
    const vendor = defineVendor({
      kind: 'bad',
      displayName: 'Bad',
      device: 'bad',
      settings: {},
      secrets: {},
      sessionLifetimeMs: HOUR,
      schedule: () => [loop({ reread: { windowMs: 13 * HOUR, sameReadingMs: 0 } })],
      load: async () => {
        throw new Error('not loaded in this test');
      },
    });
    expect(() => vendor.schedule({})).toThrow(/look-back/);
    expect(() => vendor.spec({})).toThrow(/look-back/);
  });

  it('LibreLinkUp declares one hour (readings < 30 s apart are one); Dexcom Share declares none', () => {
    expect(assembleDriver(libreLinkUpVendor, libreLinkUpSource, {}).loops[0].reread).toEqual({
      windowMs: HOUR,
      sameReadingMs: 30_000,
    });
    expect(assembleDriver(dexcomShareVendor, dexcomShareSource, {}).loops.every((l) => l.reread === undefined)).toBe(
      true,
    );
  });
});
