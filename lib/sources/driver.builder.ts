/**
 * The contract vendor drivers implement, and the builder they register with (nightscout-connect's
 * `support_session` / `register_loop`, typed). A driver declares:
 * - how to parse its non-secret settings (validated once, clear messages);
 * - session support: `authenticate` (credentials → auth info) and `authorize` (auth info → session material),
 *   optional `refresh`, and a default lifetime when the vendor does not say;
 * - one or more loops: fetch (vendor HTTP), transform (pure), schedule alignment, expected interval, retry budget and
 *   backoff.
 * Everything the persisted machine needs is plain data (`toMachineSpec`); functions stay in the driver.
 */
import type { Batch, Cursor } from '../domain/records.js';
import type { SourceCredentials } from '../domain/source.js';
import type { BackoffPolicy } from '../domain/backoff.js';
import type { LogPort } from '../ports/observability.port.js';

export interface DriverContext<Settings> {
  sourceId: string;
  settings: Settings;
  credentials: SourceCredentials;
  now: number;
  log: LogPort;
}

/** Session material the driver produced, with its real expiry when the vendor states one. */
export interface SessionGrant<Session> {
  session: Session;
  expiresAt?: number;
}

export interface SessionSupport<Settings, Auth, Session> {
  authenticate(ctx: DriverContext<Settings>): Promise<Auth>;
  authorize(ctx: DriverContext<Settings>, auth: Auth): Promise<SessionGrant<Session>>;
  refresh?(ctx: DriverContext<Settings>, session: Session): Promise<SessionGrant<Session>>;
  /** Used when the vendor gives no expiry (Dexcom: 24 h, as nightscout-connect). */
  lifetimeMs: number;
}

export interface FetchContext<Settings, Session> extends DriverContext<Settings> {
  session: Session;
  /** Newest stored instants, or null before the first successful write. */
  cursor: Cursor | null;
  /** Lower bound of the window to fetch (cursor or now − maxLookback). */
  since: number;
}

export interface LoopSpec<Settings, Session, Raw> {
  name: string;
  /** Expected interval between readings / polls. */
  intervalMs: number;
  /** Publish lag and spread added after each expected reading slot (nightscout-connect: 18 s + U(0, 18 s)). */
  align: { lagMs: number; jitterMs: number };
  /** Attempts per frame (first try included) before the frame is reported exhausted. */
  attempts: number;
  /** Per-attempt backoff between tries of one frame (SQS visibility). */
  retry: BackoffPolicy;
  /** Backoff between cycles after a frame failed (consecutive failed cycles). */
  backoff: BackoffPolicy;
  /** How far back a frame may reach (vendor limit, e.g. Dexcom 24 h). */
  maxLookbackMs: number;
  fetch(ctx: FetchContext<Settings, Session>): Promise<Raw>;
  transform(raw: Raw, ctx: { sourceId: string; settings: Settings; cursor: Cursor | null; now: number }): Batch;
}

export interface Driver<Settings = unknown, Auth = unknown, Session = unknown> {
  kind: string;
  /** Device string written on documents (used to seed the cursor from this source's own documents). */
  device: string;
  /** Validate raw non-secret settings; throw ConfigError naming the setting and what is accepted. */
  parseSettings(raw: Record<string, unknown>): Settings;
  /** Validate credentials; throw ConfigError (without echoing secret values). */
  checkCredentials(credentials: SourceCredentials): void;
  session: SessionSupport<Settings, Auth, Session>;
  loops: LoopSpec<Settings, Session, any>[];
}

/** Plain data the source machine is built from. */
export interface MachineLoopSpec {
  name: string;
  intervalMs: number;
  align: { lagMs: number; jitterMs: number };
  attempts: number;
  retry: BackoffPolicy;
  backoff: BackoffPolicy;
}

export interface MachineSpec {
  kind: string;
  sessionLifetimeMs: number;
  loops: MachineLoopSpec[];
}

export function toMachineSpec(driver: Driver): MachineSpec {
  return {
    kind: driver.kind,
    sessionLifetimeMs: driver.session.lifetimeMs,
    loops: driver.loops.map(({ name, intervalMs, align, attempts, retry, backoff }) => ({ name, intervalMs, align, attempts, retry, backoff })),
  };
}

/**
 * Fluent builder: `driverBuilder('dexcomshare', …).supportSession({…}).registerLoop({…}).build()`.
 * `build()` refuses a driver without session support or without loops, or with duplicate loop names.
 */
export function driverBuilder<Settings>(base: {
  kind: string;
  device: string;
  parseSettings: (raw: Record<string, unknown>) => Settings;
  checkCredentials: (credentials: SourceCredentials) => void;
}) {
  return {
    supportSession<Auth, Session>(session: SessionSupport<Settings, Auth, Session>) {
      const loops: LoopSpec<Settings, Session, any>[] = [];
      const withLoops = {
        registerLoop<Raw>(loop: LoopSpec<Settings, Session, Raw>) {
          if (loops.some((l) => l.name === loop.name)) throw new Error(`driver ${base.kind}: loop ${loop.name} registered twice`);
          if (loop.attempts < 1) throw new Error(`driver ${base.kind}: loop ${loop.name} needs at least one attempt`);
          loops.push(loop);
          return withLoops;
        },
        build(): Driver<Settings, Auth, Session> {
          if (loops.length === 0) throw new Error(`driver ${base.kind}: no loop registered`);
          return { ...base, session, loops: [...loops] };
        },
      };
      return withLoops;
    },
  };
}
