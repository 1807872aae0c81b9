/** The typed state value: read from stored snapshots, shown to people, compared by mode. */
import { describe, expect, it } from 'vitest';
import {
  displayState,
  loopModesOf,
  type SourceStateValue,
  sameState,
  sourceStateOf,
} from '../../../lib/machines/source/source.state.js';

const value: SourceStateValue = {
  operation: 'running',
  session: 'active',
  loops: { Entries: 'waiting', Treatments: 'backingOff' },
};

describe('source state value', () => {
  it('reads a stored value and rejects anything that is not one', () => {
    expect(sourceStateOf(JSON.parse(JSON.stringify(value)))).toEqual(value);
    expect(() => sourceStateOf('running/session:active/Entries:waiting')).toThrow(/not a source machine state value/);
    expect(() => sourceStateOf({ ...value, operation: 'stopped' })).toThrow();
    expect(() => sourceStateOf({ ...value, session: 'expired' })).toThrow();
    expect(() => sourceStateOf({ ...value, loops: { Entries: 'sleeping' } })).toThrow();
    expect(() => sourceStateOf({ operation: 'running', session: 'idle' })).toThrow();
  });

  it('shows the display form people and the trace read, loops in driver order', () => {
    expect(displayState(value)).toBe('running/session:active/Entries:waiting/Treatments:backingOff');
    expect(loopModesOf(value)).toEqual([
      ['Entries', 'waiting'],
      ['Treatments', 'backingOff'],
    ]);
  });

  it('compares by mode in every region', () => {
    expect(sameState(value, JSON.parse(JSON.stringify(value)))).toBe(true);
    expect(sameState(value, { ...value, session: 'idle' })).toBe(false);
    expect(sameState(value, { ...value, loops: { Entries: 'waiting', Treatments: 'fetching' } })).toBe(false);
    expect(sameState(value, { ...value, loops: { Entries: 'waiting' } })).toBe(false);
  });
});
