/**
 * The vendor driver contract (nightscout-connect's `support_session` / `register_loop`, typed). Types only: a vendor
 * declares its settings, secrets and schedule in `lib/sources/<vendor>/<vendor>.vendor.ts` and implements session and
 * loops in `<vendor>.source.ts`; `lib/sources/driver.builder.ts` assembles the two into a `Driver`.
 *
 * The use cases see vendors through three doors, so only fetch-frame ever loads driver code:
 * - `specFor(config)`: the machine spec, plain data from the declaration (the tick and every machine step);
 * - `declarationFor(config)`: the declared facts persist writes with (device string, each loop's look-back and re-read
 *   window), from the declaration too;
 * - `driverFor(config)`: the implementation, loaded on first use (fetch-frame, and the CLI's logins).
 */
import type { Batch, Cursor, RereadWindow } from '../domain/records.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import type { MachineLoopSpec, MachineSpec } from '../machines/source/source.spec.js';
import type { LogPort } from './observability.port.js';

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

/** How a vendor logs in and renews; written in `<vendor>.source.ts`. */
export interface SessionBehaviour<Settings, Auth, Session> {
  authenticate(ctx: DriverContext<Settings>): Promise<Auth>;
  authorize(ctx: DriverContext<Settings>, auth: Auth): Promise<SessionGrant<Session>>;
  refresh?(ctx: DriverContext<Settings>, session: Session): Promise<SessionGrant<Session>>;
  /**
   * Whether a refresh the vendor rejected falls back to a full login from the credentials (default true). False for
   * rotating refresh tokens whose credential copy is stale after the first rotation: presenting a rotated token
   * again is what an identity provider's reuse detection punishes, so the rejection parks the source instead.
   */
  loginWhenRefreshRejected?: boolean;
}

export interface SessionSupport<Settings, Auth, Session> extends SessionBehaviour<Settings, Auth, Session> {
  /** Used when the vendor gives no expiry (Dexcom: 24 h, as nightscout-connect). Declared with the vendor. */
  lifetimeMs: number;
}

export interface FetchContext<Settings, Session> extends DriverContext<Settings> {
  session: Session;
  /** Newest stored instants, or null before the first successful write. */
  cursor: Cursor | null;
  /** Lower bound of the window to fetch (cursor or now − maxLookback). */
  since: number;
}

/** A loop's timing as its vendor declares it: what the machine needs, plus what the frame handlers read. */
export interface LoopSchedule extends MachineLoopSpec {
  /** How far back a frame may reach (vendor limit, e.g. Dexcom 24 h). */
  maxLookbackMs: number;
  /**
   * Entries dated after `cursor − reread.windowMs` stay candidates (default none: only entries newer than the cursor).
   * For vendors whose history appears behind their newest reading (LibreLinkUp: 1 h). Persist hands it to the writer,
   * which skips what Nightscout already holds in that span; the transform must keep such entries too (`fetch`'s
   * `since` is still the cursor itself, so a driver that narrows its request by `since` must widen it by the window).
   */
  reread?: RereadWindow;
}

/** What one loop does each frame; written in `<vendor>.source.ts`. */
export interface LoopBehaviour<Settings, Session, Raw> {
  fetch(ctx: FetchContext<Settings, Session>): Promise<Raw>;
  transform(raw: Raw, ctx: { sourceId: string; settings: Settings; cursor: Cursor | null; now: number }): Batch;
}

export interface LoopSpec<Settings, Session, Raw> extends LoopSchedule, LoopBehaviour<Settings, Session, Raw> {}

/** A driver for one configured source: declaration and implementation together (`driver.builder.ts`). */
export interface Driver<Settings = unknown, Auth = unknown, Session = unknown> {
  kind: string;
  /** Device string written on documents (used to seed the cursor from this source's own documents). */
  device: string;
  /** Validate raw non-secret settings; throw ConfigError naming the setting and what is accepted. */
  parseSettings(raw: Record<string, unknown>): Settings;
  /** Validate credentials; throw ConfigError (without echoing secret values). */
  checkCredentials(credentials: SourceCredentials): void;
  session: SessionSupport<Settings, Auth, Session>;
  /** Each loop fetches its own raw shape and transforms it; the list holds them as `unknown` (methods, so each fits). */
  loops: LoopSpec<Settings, Session, unknown>[];
  /** A login that needs a person (a browser with CAPTCHA or MFA), for vendors that declare one. */
  login?(ctx: InteractiveLoginContext<Settings>): Promise<void>;
}

/** What an interactive login gets from the `login` command. Nothing it prints may contain a token. */
export interface InteractiveLoginContext<Settings> {
  settings: Settings;
  prompt(question: string): Promise<string>;
  print(line: string): void;
  /** Keep the vendor credentials the login obtained (the command merges them into the source's stored ones). */
  store(vendor: Record<string, string>): Promise<void>;
  now(): number;
}

/** The machine spec of a configured source, from its vendor's declaration (never loads driver code). */
export type SpecFor = (config: Pick<SourceConfig, 'kind' | 'settings'>) => MachineSpec;

/** What a vendor declares about a configured source beyond its machine spec: enough to write what it fetched. */
export interface SourceDeclaration {
  /** Device string written on documents (used to seed the cursor from this source's own documents). */
  device: string;
  /** The loops as declared for these settings: timing, look-back and re-read window. */
  loops: readonly LoopSchedule[];
}

/** The declared facts of a configured source (never loads driver code). */
export type DeclarationFor = (config: Pick<SourceConfig, 'kind' | 'settings'>) => SourceDeclaration;

/** The driver of a configured source, its implementation loaded on first use. */
export type DriverFor = (config: Pick<SourceConfig, 'kind' | 'settings'>) => Promise<Driver>;
