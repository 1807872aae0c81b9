/**
 * Child-process probe for tick-path.light.test.ts: one source per registered vendor is added and ticked through the
 * real use cases (manage-sources, run-tick) with in-memory stores, then each frame the tick sent is persisted through
 * the real persist use case (persist-frame) with a recording Nightscout writer, so only what the tick and persist paths
 * import gets loaded. Prints a JSON report. With `--load-driver` it also asks for a driver, which must load
 * implementation code.
 */

import { MemoryCredentialStore } from '../../lib/adapters/memory/memory-credential.store.js';
import { silentLog } from '../../lib/adapters/system/system.observability.js';
import { addOrUpdateSource } from '../../lib/app/manage-sources.js';
import { persistFrame } from '../../lib/app/persist-frame.js';
import { runTick } from '../../lib/app/run-tick.js';
import { type FrameMessage, MESSAGE_VERSION } from '../../lib/domain/messages.js';
import { emptyBatch } from '../../lib/domain/records.js';
import type { PersistRequest } from '../../lib/ports/nightscout.writer.port.js';
import type { SourceRecord, SourceStore } from '../../lib/ports/source.store.port.js';
import { declarationFor, driverFor, PARKED_HINTS, SOURCE_KINDS, specFor } from '../../lib/sources/vendor.catalog.js';

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
const metrics = { count: () => {}, timing: () => {} };
const frameQueue = {
  send: async (messages: Array<{ body: FrameMessage }>) => {
    sent.push(...messages.map((m) => m.body));
  },
};
const report = await runTick({ ...deps, frameQueue, metrics }, { concurrency: 1 });

// Persist what each frame would have fetched: the writer is told the source's declared device and loop facts.
const persisted: Array<{ kind: string; settle: string; device?: string; seedLookbackMs?: number }> = [];
for (const frame of sent) {
  let request: PersistRequest | undefined;
  const settlement = await persistFrame(
    {
      ...deps,
      frameQueue,
      metrics,
      declarationFor,
      sessions: { get: async () => undefined, put: async () => {}, clear: async () => {} },
      maxReceiveCount: 5,
      writerFor: () => ({
        persist: async (r) => {
          request = r;
          return { written: { entries: 0, treatments: 0, devicestatus: 0, profiles: 0 }, cursor: {} };
        },
      }),
    },
    {
      v: MESSAGE_VERSION,
      sourceId: frame.sourceId,
      kind: frame.kind,
      loop: frame.loop,
      frameId: frame.frameId,
      fetchedAt: now,
      cursor: frame.cursor,
      config: frame.config,
      batch: emptyBatch(),
    },
    1,
  );
  persisted.push({
    kind: frame.kind,
    settle: settlement.settle,
    device: request?.device,
    seedLookbackMs: request?.seedLookbackMs,
  });
}
if (process.argv.includes('--load-driver')) await driverFor({ kind: SOURCE_KINDS[0], settings: {} });
process.stdout.write(
  JSON.stringify({
    kinds: SOURCE_KINDS,
    due: report.due,
    errors: report.errors,
    framesFor: sent.map((m) => m.kind).sort(),
    persisted,
  }),
);
