/** The simulator's own fidelity: auth variants, upsert semantics per version, the 4-day window, v3 auth rules. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type NightscoutSimulator,
  type NightscoutVersion,
  startNightscoutSimulator,
} from '../../local/nightscout/nightscout.simulator.js';

const SECRET = 'correct-horse-battery-staple';
const NOW = Date.parse('2025-03-10T12:00:00.000Z');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

describe('Nightscout simulator', () => {
  let sim: NightscoutSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });
  const start = async (version: NightscoutVersion = '15.0.6') => {
    sim = await startNightscoutSimulator({ apiSecret: SECRET, version, clock: { now: () => NOW } });
    return sim;
  };
  const post = (s: NightscoutSimulator, path: string, body: unknown, secret = sha1(SECRET)) =>
    fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { 'api-secret': secret, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it("accepts SHA-1 (any case) and SHA-512 secrets; anything else is a 401 with Nightscout's body", async () => {
    const s = await start();
    expect(
      (
        await post(
          s,
          '/api/v1/devicestatus.json',
          [{ device: 'd', created_at: new Date(NOW).toISOString() }],
          sha1(SECRET).toUpperCase(),
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await post(
          s,
          '/api/v1/devicestatus.json',
          [{ device: 'd', created_at: new Date(NOW).toISOString() }],
          createHash('sha512').update(SECRET).digest('hex'),
        )
      ).status,
    ).toBe(200);
    const bad = await post(s, '/api/v1/devicestatus.json', [], sha1('nope'));
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ status: 401, message: 'Unauthorized', description: 'Invalid/Missing' });
    // Nightscout never dedups devicestatus.
    expect(s.store.devicestatus).toHaveLength(2);
  });

  it('15.0.6 replaces a re-posted entry whole; 15.0.7 merges', async () => {
    for (const version of ['15.0.6', '15.0.7'] as const) {
      const s = await start(version);
      const dateString = new Date(NOW).toISOString();
      await post(s, '/api/v1/entries.json', [{ type: 'sgv', sgv: 100, date: NOW, dateString, direction: 'Flat' }]);
      await post(s, '/api/v1/entries.json', [{ type: 'sgv', sgv: 101, date: NOW, dateString }]);
      expect(s.store.entries).toHaveLength(1);
      expect(s.store.entries[0].sgv).toBe(101);
      expect(s.store.entries[0].direction).toBe(version === '15.0.6' ? undefined : 'Flat');
      await s.close();
      sim = undefined;
    }
  });

  it('undated v1 queries see 4 days; count defaults to 10, newest first', async () => {
    const s = await start();
    const docs = Array.from({ length: 15 }, (_, i) => ({
      type: 'sgv',
      sgv: 100 + i,
      date: NOW - i * 3_600_000,
      dateString: new Date(NOW - i * 3_600_000).toISOString(),
    }));
    docs.push({
      type: 'sgv',
      sgv: 50,
      date: NOW - 5 * 86_400_000,
      dateString: new Date(NOW - 5 * 86_400_000).toISOString(),
    });
    await post(s, '/api/v1/entries.json', docs);
    const list = (await (await fetch(`${s.url}/api/v1/entries.json`)).json()) as Array<{ sgv: number }>;
    expect(list.map((e) => e.sgv)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    const old = (await (await fetch(`${s.url}/api/v1/entries.json?find[sgv]=50`)).json()) as unknown[];
    expect(old).toEqual([]);
    const dated = (await (
      await fetch(`${s.url}/api/v1/entries.json?find[sgv]=50&find[date][$gte]=0`)
    ).json()) as unknown[];
    expect(dated).toHaveLength(1);
  });

  it('treatments upsert on normalised created_at + eventType', async () => {
    const s = await start();
    await post(s, '/api/v1/treatments.json', [
      { eventType: 'Note', created_at: '2025-03-10T13:00:00+01:00', notes: 'a' },
    ]);
    await post(s, '/api/v1/treatments.json', [
      { eventType: 'Note', created_at: '2025-03-10T12:00:00.000Z', notes: 'b' },
    ]);
    expect(s.store.treatments).toHaveLength(1);
    expect(s.store.treatments[0]).toMatchObject({ created_at: '2025-03-10T12:00:00.000Z', notes: 'b' });
  });

  it('v3 wants a Bearer JWT; a token query or api-secret is a 401', async () => {
    sim = await startNightscoutSimulator({
      apiSecret: SECRET,
      clock: { now: () => NOW },
      tokens: { 'bridge-0123456789abcdef': ['*'] },
    });
    expect((await fetch(`${sim.url}/api/v3/entries?token=bridge-0123456789abcdef`)).status).toBe(401);
    expect((await fetch(`${sim.url}/api/v3/version`)).status).toBe(200);
    const auth = (await (await fetch(`${sim.url}/api/v2/authorization/request/bridge-0123456789abcdef`)).json()) as {
      token: string;
      iat: number;
      exp: number;
    };
    expect(auth.exp - auth.iat).toBe(8 * 3600);
    expect(
      (await fetch(`${sim.url}/api/v3/entries`, { headers: { authorization: `Bearer ${auth.token}` } })).status,
    ).toBe(200);
    expect(
      sim.requestLog.some(
        (r) => r.path.includes('bridge-0123456789abcdef') || r.query.some(([, v]) => v.includes('bridge-')),
      ),
    ).toBe(false);
  });
});
