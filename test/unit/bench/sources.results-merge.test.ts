/** `--only sources` merges its figures into an existing results file without touching the other sections. */
import { describe, expect, it } from 'vitest';
import { mergeSection, type ResultsFile } from '../../../bench/results.merge.js';

const run = { date: '2026-11-24T10:00:00.000Z', mode: 'full', machine: { cores: 2 } };

describe('mergeSection', () => {
  it('replaces the section figures in place and keeps every other figure, detail and top-level fact', () => {
    const existing: ResultsFile = {
      date: '2026-11-23T11:00:00.000Z',
      mode: 'full',
      figures: [
        { id: 'step.cpuMsPerStep' },
        { id: 'sources.dexcomshare.old' },
        { id: 'sources.glooko.old' },
        { id: 'bundle.tick.bytes' },
      ],
      details: { step: { a: 1 }, sources: { stale: true } },
    };
    const merged = mergeSection(existing, {
      name: 'sources',
      figures: [{ id: 'sources.dexcomshare.new' }, { id: 'sources.nightscout.new' }],
      details: { fresh: true },
      run,
    });
    expect(merged.figures.map((f) => f.id)).toEqual([
      'step.cpuMsPerStep',
      'sources.dexcomshare.new',
      'sources.nightscout.new',
      'bundle.tick.bytes',
    ]);
    expect(merged.details).toEqual({ step: { a: 1 }, sources: { fresh: true } });
    expect(merged.date).toBe(existing.date);
    expect(merged.sections).toEqual({ sources: run });
  });

  it('appends the section when the file has none of its figures yet', () => {
    const merged = mergeSection(
      { figures: [{ id: 'step.x' }, { id: 'bundle.y' }] },
      { name: 'sources', figures: [{ id: 'sources.a' }], details: {}, run },
    );
    expect(merged.figures.map((f) => f.id)).toEqual(['step.x', 'bundle.y', 'sources.a']);
  });

  it('writes a file holding only the section when none exists', () => {
    const merged = mergeSection(undefined, { name: 'sources', figures: [{ id: 'sources.a' }], details: { d: 1 }, run });
    expect(merged).toMatchObject({
      ...run,
      figures: [{ id: 'sources.a' }],
      details: { sources: { d: 1 } },
      sections: { sources: run },
    });
  });

  it('refuses a figure from another section (it would be dropped on the next merge)', () => {
    expect(() => mergeSection(undefined, { name: 'sources', figures: [{ id: 'cost.x' }], details: {}, run })).toThrow(
      /cost\.x/,
    );
  });
});
