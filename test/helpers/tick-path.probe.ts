/**
 * Child-process probe for tick-path.light.test.ts: one source per registered vendor is added and ticked through the
 * real use cases (manage-sources, run-tick) with in-memory stores, so only what the tick path imports gets loaded.
 * Prints a JSON report. With `--load-driver` it also asks for a driver, which must load implementation code.
 */

import { MemoryCredentialStore } from '../../lib/adapters/memory/memory-credential.store.js';
import { silentLog } from '../../lib/adapters/system/system.observability.js';
import { addOrUpdateSource } from '../../lib/app/manage-sources.js';
import { runTick } from '../../lib/app/run-tick.js';
import type { FrameMessage } from '../../lib/domain/messages.js';
import type { SourceRecord, SourceStore } from '../../lib/ports/source.store.port.js';
import { driverFor, PARKED_HINTS, SOURCE_KINDS, specFor } from '../../lib/sources/vendor.catalog.js';

/** The smallest SourceStore the use cases need: versioned records in a map. */
function memorySources(): SourceStore {
  const records = new Map<string, SourceRecord>();
  const store: SourceStore = {
    async get(id) {
      return structuredClone(records.get(id));
    },
    async create(record) {
      const created = { ...record, version: 1 };
      records.set(record.id, structuredClone(created));
      return created;
    },
    async save(record, expected) {
      const current = records.get(record.id);
      if (!current || current.version !== expected) throw new Error('version conflict');
      records.set(record.id, structuredClone({ ...record, version: expected + 1 }));
      return expected + 1;
    },
    async queryDue(until) {
      return [...records.values()]
        .filter((r) => r.nextDueAt !== undefined && r.nextDueAt <= until)
        .map((r) => structuredClone(r));
    },
    async list() {
      return [...records.values()];
    },
    async remove(id) {
      records.delete(id);
    },
    async recentTransitions() {
      return [];
    },
  };
  return store;
}

const now = Date.UTC(2026, 0, 5, 12, 0, 7);
const sources = memorySources();
const sent: FrameMessage[] = [];
const clock = { now: () => now };
const deps = {
  sources,
  specFor,
  parkedHints: PARKED_HINTS,
  clock,
  log: silentLog,
  credentials: new MemoryCredentialStore(),
};
for (const kind of SOURCE_KINDS) {
  const config = {
    id: `probe-${kind}`,
    kind,
    settings: {},
    nightscout: { endpoint: 'https://ns.example.org', apiVersion: 'v1' as const },
  };
  await addOrUpdateSource(deps, config, { vendor: {}, nightscout: {} });
}
const report = await runTick(
  {
    ...deps,
    frameQueue: {
      send: async (messages) => {
        sent.push(...messages.map((m) => m.body));
      },
    },
    metrics: { count: () => {}, timing: () => {} },
  },
  { concurrency: 1 },
);
if (process.argv.includes('--load-driver')) await driverFor({ kind: SOURCE_KINDS[0], settings: {} });
process.stdout.write(
  JSON.stringify({
    kinds: SOURCE_KINDS,
    due: report.due,
    errors: report.errors,
    framesFor: sent.map((m) => m.kind).sort(),
  }),
);
