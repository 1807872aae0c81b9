/**
 * Stored snapshots outlive builds: a source saved by one build is stepped by the next. The fixtures in
 * test/fixtures/machines were recorded from the machine as it was (see source-fixtures.recorder.ts); this replays
 * every recorded event through the machine as it is, from the recorded stored snapshot, and requires the same stored
 * snapshot, the same effects in the same order, and the same display states. Fixtures of an older machine version
 * must at least restore (migrated by upgradeSnapshot).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { restore, startSource, step } from '../../../lib/machines/source/source.snapshot.js';
import { SOURCE_MACHINE_VERSION } from '../../../lib/machines/source/source.types.js';
import type { SourceFixture } from '../../fixtures/machines/source-fixtures.recorder.js';

const DIR = fileURLToPath(new URL('../../fixtures/machines', import.meta.url));
const fixtures = readdirSync(DIR)
  .filter((file) => /^source-v\d+-.+\.json$/.test(file))
  .map((file) => ({ file, fixture: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as SourceFixture }));

describe('stored source snapshots of every recorded machine version', () => {
  it('has fixtures for the current version covering every mode of every region', () => {
    const current = fixtures.filter((f) => f.fixture.machineVersion === SOURCE_MACHINE_VERSION);
    expect(
      current.length,
      'record fixtures of this machine version: npx tsx test/fixtures/machines/source-fixtures.recorder.ts',
    ).toBeGreaterThanOrEqual(9);
    const values = new Set(
      current.flatMap((f) => f.fixture.steps.map((s) => JSON.stringify((s.snapshot as { value: unknown }).value))),
    );
    for (const mode of [
      '"paused"',
      '"idle"',
      '"authenticating"',
      '"active"',
      '"rejected"',
      '"lockedOut"',
      '"waiting"',
      '"fetching"',
      '"persisting"',
      '"backingOff"',
    ]) {
      expect(
        [...values].some((v) => v.includes(mode)),
        mode,
      ).toBe(true);
    }
  });

  for (const { file, fixture } of fixtures) {
    if (fixture.machineVersion === SOURCE_MACHINE_VERSION) {
      it(`${file}: the same start, and every step gives the same snapshot, effects and states`, () => {
        expect(startSource(fixture.spec, fixture.sourceId, fixture.startedAt)).toEqual({
          snapshot: fixture.start,
          machineVersion: fixture.machineVersion,
        });
        let stored = fixture.start;
        fixture.steps.forEach((recorded, i) => {
          const result = step(fixture.spec, stored, fixture.machineVersion, recorded.event);
          const replayed = {
            snapshot: result.snapshot,
            effects: result.effects,
            changed: result.changed,
            from: result.from,
            to: result.to,
          };
          expect(JSON.parse(JSON.stringify(replayed)), `step ${i}: ${recorded.event.type}`).toEqual({
            snapshot: recorded.snapshot,
            effects: recorded.effects,
            changed: recorded.changed,
            from: recorded.from,
            to: recorded.to,
          });
          stored = recorded.snapshot;
        });
      });
    } else {
      it(`${file}: every stored snapshot of machine version ${fixture.machineVersion} still restores`, () => {
        for (const s of [fixture.start, ...fixture.steps.map((r) => r.snapshot)]) {
          expect(() => restore(fixture.spec, s, fixture.machineVersion)).not.toThrow();
        }
      });
    }
  }
});
