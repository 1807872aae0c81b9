/**
 * An in-memory vendor and the driver that talks to it, for unit tests of the use cases. The vendor behaves like a
 * real one by default: it accepts one password, hands out session ids it remembers, answers a data call with an
 * unknown (expired, revoked) session with `SessionInvalidError`, and serves the readings a test gives it. On top of
 * that a test can queue failures for the next calls of an operation (`failNext`). Every call is recorded with the
 * credentials or session it used, so tests can count logins and see which password a login presented.
 *
 * Its errors quote the secret they concern in their message on purpose: the product must never log or report an
 * error message from a driver, and a leak then shows up in the canary checks.
 */

import type { BackoffPolicy } from '../../lib/domain/backoff.js';
import { SessionInvalidError, SourceAuthRejectedError, type SourceError } from '../../lib/domain/errors.js';
import { type Batch, emptyBatch, type SgvEntry } from '../../lib/domain/records.js';
import type { MachineSpec } from '../../lib/machines/source/source.spec.js';
import type { Driver, LoopSchedule } from '../../lib/ports/driver.port.js';
import { assembleDriver, driverBuilder } from '../../lib/sources/driver.builder.js';

export const FAKE_KIND = 'fakevendor';
export const FAKE_DEVICE = 'fake-vendor-uploader';
export const FAKE_LOOP = 'Glucose';
/** Canary secrets: none may appear anywhere outside the credential and session stores. */
export const FAKE_PASSWORD = 'Fake-Vendor-Pw-7f3a-DO-NOT-LEAK';
export const FAKE_NEW_PASSWORD = 'Fake-Vendor-New-Pw-91bd-DO-NOT-LEAK';
export const FAKE_ACCOUNT = 'parent-canary@example.invalid';
const SESSION_PREFIX = 'fake-session-DO-NOT-LEAK-';
const REFRESH_PREFIX = 'fake-refresh-DO-NOT-LEAK-';

export type VendorOp = 'authenticate' | 'authorize' | 'refresh' | 'fetch';

export interface VendorCall {
  op: VendorOp;
  /** The password presented (authenticate). */
  password?: string;
  /** The session id (fetch, refresh) or refresh token (refresh) presented. */
  sessionId?: string;
  refreshToken?: string;
  /** The lower bound asked for (fetch). */
  since?: number;
}

export interface FakeSession {
  sessionId: string;
  refreshToken?: string;
}

export interface FakeReading {
  date: number;
  sgv: number;
}

export interface FakeDriverOptions {
  /** Adds `refresh` (a refresh token rides in the session material). */
  refresh?: boolean;
  loginWhenRefreshRejected?: boolean;
  /** Session lifetime the driver declares (used when the vendor states no expiry). @default 1 h */
  lifetimeMs?: number;
  /** An expiry the vendor states on each grant, relative to the grant (absent: the declared lifetime applies). */
  grantExpiresInMs?: number;
  /** @default 3 */
  attempts?: number;
  /** @default { baseMs: 10_000, capMs: 120_000 } */
  retry?: BackoffPolicy;
  /** @default 5 min */
  intervalMs?: number;
}

export class FakeVendor {
  /** The password the vendor accepts now; change it to model a password changed at the vendor. */
  password = FAKE_PASSWORD;
  /** What the vendor has published. */
  readings: FakeReading[] = [];
  readonly calls: VendorCall[] = [];
  readonly driver: Driver;
  private readonly sessions = new Set<string>();
  private readonly refreshTokens = new Set<string>();
  private readonly queued: Record<VendorOp, SourceError[]> = {
    authenticate: [],
    authorize: [],
    refresh: [],
    fetch: [],
  };
  private seq = 0;

  constructor(readonly options: FakeDriverOptions = {}) {
    this.driver = this.buildDriver();
  }

  /** The next calls of `op` fail with these errors, in order (after being recorded). */
  failNext(op: VendorOp, ...errors: SourceError[]): void {
    this.queued[op].push(...errors);
  }

  /** The vendor forgets every session (a server-side expiry or revocation); refresh tokens stay valid. */
  invalidateSessions(): void {
    this.sessions.clear();
  }

  /** The vendor revokes every refresh token. */
  revokeRefreshTokens(): void {
    this.refreshTokens.clear();
  }

  callsOf(op: VendorOp): VendorCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  /** Every secret this vendor knows of: passwords, session ids and refresh tokens it handed out. */
  secrets(): string[] {
    const handedOut = this.calls
      .flatMap((c) => [c.sessionId, c.refreshToken])
      .filter((s): s is string => s !== undefined);
    return [FAKE_PASSWORD, FAKE_NEW_PASSWORD, ...handedOut, ...this.sessions, ...this.refreshTokens];
  }

  private call(entry: VendorCall): void {
    this.calls.push(entry);
    const error = this.queued[entry.op].shift();
    if (error) throw error;
  }

  private grant(now: number): { session: FakeSession; expiresAt?: number } {
    const n = ++this.seq;
    const session: FakeSession = { sessionId: `${SESSION_PREFIX}${n}` };
    this.sessions.add(session.sessionId);
    if (this.options.refresh) {
      session.refreshToken = `${REFRESH_PREFIX}${n}`;
      this.refreshTokens.add(session.refreshToken);
    }
    return {
      session,
      ...(this.options.grantExpiresInMs !== undefined ? { expiresAt: now + this.options.grantExpiresInMs } : {}),
    };
  }

  /** The declared timing of the fake vendor's one loop (what a `<vendor>.vendor.ts` would declare). */
  get schedule(): LoopSchedule[] {
    const o = this.options;
    return [
      {
        name: FAKE_LOOP,
        intervalMs: o.intervalMs ?? 5 * 60_000,
        align: { lagMs: 10_000, jitterMs: 8_000 },
        attempts: o.attempts ?? 3,
        retry: o.retry ?? { baseMs: 10_000, capMs: 120_000 },
        backoff: { baseMs: 60_000, capMs: 30 * 60_000 },
        maxLookbackMs: 24 * 60 * 60_000,
      },
    ];
  }

  /** The machine spec the tick path gets for this vendor (declarations only). */
  get spec(): MachineSpec {
    return {
      kind: FAKE_KIND,
      sessionLifetimeMs: this.options.lifetimeMs ?? 60 * 60_000,
      loops: this.schedule.map(({ name, intervalMs, align, attempts, retry, backoff }) => ({
        name,
        intervalMs,
        align,
        attempts,
        retry,
        backoff,
      })),
    };
  }

  private buildDriver(): Driver {
    const o = this.options;
    const implementation = driverBuilder<Record<string, unknown>>()
      .supportSession<{ accountId: string }, FakeSession>({
        authenticate: async (ctx) => {
          const password = ctx.credentials.vendor.password;
          this.call({ op: 'authenticate', password });
          if (password !== this.password)
            throw new SourceAuthRejectedError(`password ${password} refused`, 'FAKE.AUTH_REJECTED');
          return { accountId: `account-of-${ctx.credentials.vendor.accountName}` };
        },
        authorize: async (ctx) => {
          this.call({ op: 'authorize' });
          return this.grant(ctx.now);
        },
        ...(o.refresh
          ? {
              refresh: async (ctx, session) => {
                this.call({ op: 'refresh', sessionId: session.sessionId, refreshToken: session.refreshToken });
                if (!session.refreshToken || !this.refreshTokens.has(session.refreshToken)) {
                  throw new SourceAuthRejectedError(
                    `refresh token ${session.refreshToken} refused`,
                    'FAKE.REFRESH_REJECTED',
                  );
                }
                // Rotating tokens: the one presented is spent.
                this.refreshTokens.delete(session.refreshToken);
                return this.grant(ctx.now);
              },
            }
          : {}),
        ...(o.loginWhenRefreshRejected !== undefined ? { loginWhenRefreshRejected: o.loginWhenRefreshRejected } : {}),
      })
      .registerLoop<{ readings: FakeReading[] }>(FAKE_LOOP, {
        fetch: async (ctx) => {
          this.call({ op: 'fetch', sessionId: ctx.session.sessionId, since: ctx.since });
          if (!this.sessions.has(ctx.session.sessionId))
            throw new SessionInvalidError(`session ${ctx.session.sessionId} not found`, 'FAKE.SESSION_NOT_FOUND');
          return { readings: this.readings.filter((r) => r.date >= ctx.since && r.date <= ctx.now) };
        },
        transform: (raw, ctx): Batch => {
          const after = ctx.cursor?.entries ?? Number.NEGATIVE_INFINITY;
          const entries: SgvEntry[] = raw.readings
            .filter((r) => r.date > after)
            .map((r) => ({
              type: 'sgv',
              sgv: r.sgv,
              date: r.date,
              dateString: new Date(r.date).toISOString(),
              direction: 'Flat',
              device: FAKE_DEVICE,
            }));
          return { ...emptyBatch(), entries };
        },
      })
      .build();
    return assembleDriver(
      {
        kind: FAKE_KIND,
        device: FAKE_DEVICE,
        sessionLifetimeMs: o.lifetimeMs ?? 60 * 60_000,
        parseSettings: (raw) => ({ ...raw }),
        checkCredentials: () => {},
        schedule: () => this.schedule,
      },
      implementation,
      {},
    ) as Driver;
  }
}
