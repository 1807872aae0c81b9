/** Status facts derived from a stored snapshot without a machine. */
import { describe, expect, it } from 'vitest';
import { statusOfStored } from '../../../lib/app/source-status.js';
import { nextWakeAt, readStored } from '../../../lib/machines/source/source.view.js';
import { PARKED_HINTS } from '../../../lib/sources/vendor.catalog.js';

function stored(session: string, code?: string, frame: unknown = null, operation = 'running') {
  return {
    value: { operation, session, loops: { A: frame ? 'fetching' : 'waiting' } },
    context: { sourceId: 's', session: { code }, loops: { A: { dueAt: 1_000, frame, failures: 0, seq: 1 } } },
  };
}
const wakeOfStored = (snapshot: unknown) => {
  const { context, value } = readStored(snapshot);
  return nextWakeAt(context, value);
};

describe('statusOfStored', () => {
  it('tells a parked person what to do for codes where new credentials are the wrong advice (hints the vendors declare)', () => {
    expect(statusOfStored(stored('rejected', 'LIBRELINKUP.TERMS_REQUIRED'), PARKED_HINTS).parkedReason).toBe(
      'accept the new terms in the LibreLinkUp app, then save the credentials again (`nightscout-connect sources update-credentials <id>`) to resume (LIBRELINKUP.TERMS_REQUIRED)',
    );
    expect(statusOfStored(stored('rejected', 'CARELINK.LOGIN_REQUIRED'), PARKED_HINTS).parkedReason).toMatch(
      /^CareLink needs a new browser login: run `nightscout-connect login --source minimedcarelink`/,
    );
    expect(statusOfStored(stored('rejected', 'SHARE.AUTH_REJECTED'), PARKED_HINTS).parkedReason).toBe(
      'credentials rejected (SHARE.AUTH_REJECTED): update the credentials to resume',
    );
    expect(statusOfStored(stored('active', undefined, null, 'paused')).parkedReason).toBe('paused by an operator');
  });

  it('gives the generic advice when no hints are passed, and never reads a hint off the object prototype', () => {
    expect(statusOfStored(stored('rejected', 'LIBRELINKUP.TERMS_REQUIRED')).parkedReason).toBe(
      'credentials rejected (LIBRELINKUP.TERMS_REQUIRED): update the credentials to resume',
    );
    expect(statusOfStored(stored('rejected', 'toString'), PARKED_HINTS).parkedReason).toBe(
      'credentials rejected (toString): update the credentials to resume',
    );
  });

  it('derives the display state, the modes and the next wake, and has no wake while parked', () => {
    expect(statusOfStored(stored('active'))).toMatchObject({
      state: 'running/session:active/A:waiting',
      operation: 'running',
      sessionMode: 'active',
      loopModes: { A: 'waiting' },
      nextWakeAt: 1_000,
    });
    expect(statusOfStored(stored('rejected', 'X', null, 'paused'))).toMatchObject({
      state: 'paused/session:rejected/A:waiting',
      operation: 'paused',
      sessionMode: 'rejected',
      loopModes: { A: 'waiting' },
    });
    expect(wakeOfStored(stored('active', undefined, { id: 'A-1', resendAt: 9_000 }))).toBe(9_000);
    expect(wakeOfStored(stored('rejected', 'X'))).toBeUndefined();
    expect(statusOfStored(stored('rejected', 'X')).nextWakeAt).toBeUndefined();
  });

  it("refuses a snapshot whose state value is not this machine's", () => {
    expect(() => statusOfStored({ ...stored('active'), value: 'running/session:active/A:waiting' })).toThrow(
      /not a source machine state value/,
    );
    expect(() => statusOfStored(stored('asleep'))).toThrow(/not a source machine state value/);
  });
});
