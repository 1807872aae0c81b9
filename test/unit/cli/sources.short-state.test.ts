/** The list's compact state is read from the status's modes, not parsed from the display string. */
import { describe, expect, it } from 'vitest';
import { statusOfStored } from '../../../lib/app/source-status.js';
import { shortState } from '../../../lib/cli/sources.command.js';
import type { SourceRecord } from '../../../lib/ports/source.store.port.js';

function record(operation: string, session: string): SourceRecord {
  const snapshot = {
    value: { operation, session, loops: { L: 'waiting' } },
    context: {
      sourceId: 's',
      session: {},
      loops: { L: { dueAt: 0, cursor: null, frame: null, failures: 0, seq: 0, rechecks: 0 } },
    },
  };
  return {
    id: 's',
    snapshot,
    machineVersion: 1,
    version: 1,
    status: statusOfStored(snapshot),
    config: {
      id: 's',
      kind: 'dexcomshare',
      settings: {},
      nightscout: { endpoint: 'https://ns.example', apiVersion: 'v1' },
    },
  };
}

describe('shortState', () => {
  it('names what an operator acts on', () => {
    expect(shortState(record('paused', 'rejected'))).toBe('paused');
    expect(shortState(record('running', 'rejected'))).toBe('auth-rejected');
    expect(shortState(record('running', 'lockedOut'))).toBe('locked-out');
    expect(shortState(record('running', 'active'))).toBe('running (active)');
    expect(shortState(record('running', 'authenticating'))).toBe('running (authenticating)');
  });
});
