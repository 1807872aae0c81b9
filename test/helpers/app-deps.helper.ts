/**
 * The one place unit tests build the use cases' dependencies (CoreDeps, FetchDeps, PersistDeps, ManageDeps): memory
 * adapters from lib/adapters/memory, the memory source store, a fake vendor with its driver, a fake Nightscout, a
 * manual clock and recording log and metrics. How drivers reach the app is decided here only (`drivers`), so a change
 * to that contract changes this file, not the tests.
 *
 * Credentials are modelled as Secrets Manager is used in AWS: the use cases read through a per-process cache
 * (`credentials`), while an operator writes the secret itself (`secret`); `fresh: true` reads past the cache.
 */
import { MemoryCredentialStore } from '../../lib/adapters/memory/memory-credential.store.js';
import { MemoryQueue } from '../../lib/adapters/memory/memory-message.queue.js';
import { MemorySessionStore } from '../../lib/adapters/memory/memory-session.store.js';
import type { CoreDeps, FetchDeps, PersistDeps, Settlement } from '../../lib/app/app.deps.js';
import { fetchFrame } from '../../lib/app/fetch-frame.js';
import { addOrUpdateSource, type ManageDeps } from '../../lib/app/manage-sources.js';
import { persistFrame } from '../../lib/app/persist-frame.js';
import { runTick, type TickOptions, type TickReport } from '../../lib/app/run-tick.js';
import { ConfigError } from '../../lib/domain/errors.js';
import type { FrameMessage, PersistMessage, SourceEvent } from '../../lib/domain/messages.js';
import type { SourceConfig, SourceCredentials } from '../../lib/domain/source.js';
import type { CredentialStore } from '../../lib/ports/credential.store.port.js';
import type { SourceRecord } from '../../lib/ports/source.store.port.js';
import { RecordingLog, RecordingMetrics } from '../../local/recording.observability.js';
import { FAKE_NS_SECRET, FakeNightscout } from './fake-nightscout.helper.js';
import { FAKE_ACCOUNT, FAKE_KIND, FAKE_PASSWORD, type FakeDriverOptions, FakeVendor } from './fake-vendor.helper.js';
import { clearMachineEvents, machineEvents } from './machine-events.helper.js';
import { MemorySourceStore } from './memory-source.store.js';

/** 2026-03-02T09:00:00Z, a Monday: any fixed instant does; a fixed one keeps jittered delays reproducible. */
export const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);

export class ManualClock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A per-process credential cache over the secret, like SecretsManagerCredentialStore with a long cache TTL. */
export class CachedCredentials implements CredentialStore {
  private readonly cache = new Map<string, SourceCredentials>();
  gets = 0;
  freshGets = 0;
  constructor(private readonly secret: CredentialStore) {}

  async get(sourceId: string, options?: { fresh?: boolean }): Promise<SourceCredentials> {
    this.gets++;
    if (options?.fresh) this.freshGets++;
    const cached = this.cache.get(sourceId);
    if (cached && !options?.fresh) return structuredClone(cached);
    const value = await this.secret.get(sourceId);
    this.cache.set(sourceId, value);
    return structuredClone(value);
  }
}

export interface AppWorldOptions {
  vendor?: FakeDriverOptions;
  start?: number;
  /** The queues' maxReceiveCount (FetchDeps/PersistDeps.maxReceiveCount). @default 5 */
  maxReceiveCount?: number;
}

export interface AppWorld {
  clock: ManualClock;
  log: RecordingLog;
  metrics: RecordingMetrics;
  vendor: FakeVendor;
  nightscout: FakeNightscout;
  sources: MemorySourceStore;
  sessions: MemorySessionStore;
  /** The secret itself (what an operator writes). */
  secret: MemoryCredentialStore;
  /** What the use cases read: a cache over `secret`. */
  credentials: CachedCredentials;
  frameQueue: MemoryQueue<FrameMessage>;
  persistQueue: MemoryQueue<PersistMessage>;
  /** Every body sent to either queue, as JSON. */
  sentBodies: string[];
  core: CoreDeps;
  fetchDeps: FetchDeps;
  persistDeps: PersistDeps;
  manage: ManageDeps;
  /** Adds a source of the fake vendor (real addOrUpdateSource: due at once). */
  addSource(id?: string, credentials?: SourceCredentials): Promise<SourceConfig>;
  tick(options?: TickOptions): Promise<TickReport>;
  /** Takes every frame message visible now off the fetch queue. */
  takeFrames(): FrameMessage[];
  /** Ticks and takes the one frame message that tick sent. */
  nextFrame(): Promise<FrameMessage>;
  takePersists(): PersistMessage[];
  fetch(message: FrameMessage, receiveCount?: number): Promise<Settlement>;
  persist(message: PersistMessage, receiveCount?: number): Promise<Settlement>;
  record(id?: string): Promise<SourceRecord>;
  /** Events the machine of `id` received, in order (optionally only one type). */
  events<T extends SourceEvent['type']>(type?: T, id?: string): Array<Extract<SourceEvent, { type: T }>>;
  /** Everything that must never hold a secret: events, log lines, metric names, queue bodies, source items, traces. */
  publicText(): Promise<string>;
}

export const SOURCE_ID = 'src-1';

export function credentialsFor(password = FAKE_PASSWORD): SourceCredentials {
  return { vendor: { accountName: FAKE_ACCOUNT, password }, nightscout: { apiSecret: FAKE_NS_SECRET } };
}

export function createAppWorld(options: AppWorldOptions = {}): AppWorld {
  clearMachineEvents();
  const clock = new ManualClock(options.start ?? T0);
  const log = new RecordingLog();
  const metrics = new RecordingMetrics();
  const vendor = new FakeVendor(options.vendor);
  const nightscout = new FakeNightscout();
  const sources = new MemorySourceStore();
  const sessions = new MemorySessionStore({ clock });
  const secret = new MemoryCredentialStore();
  const credentials = new CachedCredentials(secret);
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const frameQueue = new MemoryQueue<FrameMessage>({
    name: 'fetch',
    clock,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount,
  });
  const persistQueue = new MemoryQueue<PersistMessage>({
    name: 'persist',
    clock,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount,
  });
  const sentBodies: string[] = [];
  const recorded = <T>(queue: MemoryQueue<T>) => ({
    send: async (messages: Parameters<MemoryQueue<T>['send']>[0]) => {
      for (const m of messages) sentBodies.push(JSON.stringify(m.body));
      return queue.send(messages);
    },
  });

  const known = (kind: string) => {
    if (kind !== FAKE_KIND) throw new ConfigError([`CONNECT_SOURCE: unknown source "${kind}"`]);
  };
  const specFor: CoreDeps['specFor'] = (config) => {
    known(config.kind);
    return vendor.spec;
  };
  const driverFor: FetchDeps['driverFor'] = async (config) => {
    known(config.kind);
    return vendor.driver;
  };
  const declarationFor: PersistDeps['declarationFor'] = (config) => {
    known(config.kind);
    return { device: vendor.driver.device, loops: vendor.schedule };
  };
  const core: CoreDeps = { sources, specFor, frameQueue: recorded(frameQueue), clock, log, metrics };
  const fetchDeps: FetchDeps = {
    ...core,
    driverFor,
    sessions,
    credentials,
    persistQueue: recorded(persistQueue),
    maxReceiveCount,
  };
  const persistDeps: PersistDeps = {
    ...core,
    declarationFor,
    sessions,
    credentials,
    writerFor: nightscout.writerFor,
    maxReceiveCount,
  };
  const manage: ManageDeps = { sources, specFor, clock, log, credentials: secret, sessions };

  const take = <T>(queue: MemoryQueue<T>): T[] =>
    queue.receive(10).map((m) => {
      queue.delete(m.receiptHandle);
      return m.body;
    });

  const world: AppWorld = {
    clock,
    log,
    metrics,
    vendor,
    nightscout,
    sources,
    sessions,
    secret,
    credentials,
    frameQueue,
    persistQueue,
    sentBodies,
    core,
    fetchDeps,
    persistDeps,
    manage,
    async addSource(id = SOURCE_ID, creds = credentialsFor()) {
      const config: SourceConfig = {
        id,
        kind: FAKE_KIND,
        settings: {},
        nightscout: { endpoint: 'https://ns.example.invalid', apiVersion: 'v1' },
      };
      await addOrUpdateSource(manage, config, creds);
      return config;
    },
    tick: (tickOptions) => runTick(core, tickOptions),
    takeFrames: () => take(frameQueue),
    async nextFrame() {
      await world.tick();
      const frames = world.takeFrames();
      if (frames.length !== 1) throw new Error(`expected one frame from the tick, got ${frames.length}`);
      return frames[0];
    },
    takePersists: () => take(persistQueue),
    fetch: (message, receiveCount = 1) => fetchFrame(fetchDeps, message, receiveCount),
    persist: (message, receiveCount = 1) => persistFrame(persistDeps, message, receiveCount),
    async record(id = SOURCE_ID) {
      const found = await sources.get(id);
      if (!found) throw new Error(`no source ${id}`);
      return found;
    },
    events<T extends SourceEvent['type']>(type?: T, id?: string) {
      return machineEvents
        .filter((e) => (id === undefined || e.sourceId === id) && (type === undefined || e.event.type === type))
        .map((e) => e.event) as Array<Extract<SourceEvent, { type: T }>>;
    },
    async publicText() {
      const traces = await Promise.all((await sources.list()).map((r) => sources.recentTransitions(r.id, 1000)));
      return [
        JSON.stringify(machineEvents),
        ...log.lines,
        JSON.stringify(metrics),
        ...sentBodies,
        JSON.stringify(await sources.list()),
        JSON.stringify(traces),
      ].join('\n');
    },
  };
  return world;
}
