/** stableIdentifier: must equal Nightscout's own uuid.v5(`${device}_${date}[_${eventType}]`, "NightscoutRocks!"). */
import { describe, expect, it } from 'vitest';
import { stableIdentifier } from '../../../lib/adapters/nightscout/nightscout-v3.writer.js';

describe('stableIdentifier', () => {
  // Vectors computed independently with Python's uuid.uuid5(UUID(bytes=b'NightscoutRocks!'), name).
  it("matches UUID v5 in Nightscout's namespace", () => {
    expect(stableIdentifier({ device: 'nightscout-connect-dexcomshare', date: 1741608000000 })).toBe(
      'c496acf4-d76d-528d-91b8-3e41d396b5d7',
    );
    expect(
      stableIdentifier({ device: 'nightscout-connect-dexcomshare', date: 1741608000000, eventType: 'Meal Bolus' }),
    ).toBe('720ac361-4539-5960-b10e-93a153834e8d');
  });

  it('differs by date, device and eventType', () => {
    const base = stableIdentifier({ device: 'a', date: 1741608000000 });
    expect(stableIdentifier({ device: 'a', date: 1741608000001 })).not.toBe(base);
    expect(stableIdentifier({ device: 'b', date: 1741608000000 })).not.toBe(base);
    expect(stableIdentifier({ device: 'a', date: 1741608000000, eventType: 'Note' })).not.toBe(base);
  });
});
