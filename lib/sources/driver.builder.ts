/**
 * The contract vendor drivers implement, and the builder they register with (nightscout-connect's
 * `support_session` / `register_loop`, typed). A driver declares:
 * - how to parse its non-secret settings (validated once, clear messages);
 * - session support: `authenticate` (credentials → auth info) and `authorize` (auth info → session material),
 *   optional `refresh`, and a default lifetime when the vendor does not say;
 * - one or more loops: fetch (vendor HTTP), transform (pure), schedule alignment, expected interval, retry budget and
 *   backoff, and optionally a re-read window for history that fills in behind the newest reading.
 * Everything the persisted machine needs is plain data (`toMachineSpec`); functions stay in the driver.
 */
import type { Batch, Cursor, RereadWindow } from '../domain/records.js';
import type { SourceCredentials } from '../domain/source.js';
import type { BackoffPolicy } from '../domain/backoff.js';
import type { LogPort } from '../ports/observability.port.js';
import type { MachineSpec } from '../machines/source/source.spec.js';

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
  /**
   * Whether a refresh the vendor rejected falls back to a full login from the credentials (default true). False for
   * rotating refresh tokens whose credential copy is stale after the first rotation: presenting a rotated token
   * again is what an identity provider's reuse detection punishes, so the rejection parks the source instead.
   */
  loginWhenRefreshRejected?: boolean;
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
  /**
   * Entries dated after `cursor − reread.windowMs` stay candidates (default none: only entries newer than the cursor).
   * For vendors whose history appears behind their newest reading (LibreLinkUp: 1 h). Persist hands it to the writer,
   * which skips what Nightscout already holds in that span; the transform must keep such entries too (`fetch`'s
   * `since` is still the cursor itself, so a driver that narrows its request by `since` must widen it by the window).
   */
  reread?: RereadWindow;
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

/** The plain data the source machine is built from (see source.spec.ts). */
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
          if (loop.reread) checkReread(base.kind, loop.name, loop.reread, loop.maxLookbackMs);
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

/** A window reaching past the look-back would ask the writer for readings the vendor can no longer serve. */
function checkReread(kind: string, loop: string, reread: RereadWindow, maxLookbackMs: number): void {
  const ok = (v: number) => Number.isFinite(v) && v >= 0;
  if (!ok(reread.windowMs) || reread.windowMs > maxLookbackMs) {
    throw new Error(`driver ${kind}: loop ${loop} re-read window must be between 0 and its look-back (${maxLookbackMs} ms)`);
  }
  if (!ok(reread.sameReadingMs) || (reread.sameReadingMs > 0 && reread.sameReadingMs >= reread.windowMs)) {
    throw new Error(`driver ${kind}: loop ${loop} same-reading tolerance must be ≥ 0 and shorter than the re-read window`);
  }
}
