/**
 * One error hierarchy for the whole product. Every error that crosses a port carries a `kind`, which decides
 * what happens next:
 * - `retryable`: transient (network, timeout, 5xx, 429). Redeliver with capped backoff; honour `retryAfterMs`.
 * - `permanent`: retrying cannot help (bad request, unparseable body). Record it, do not retry the frame.
 * - `authRejected`: the vendor or Nightscout refused the credentials. Park the source; no login until the
 *   credentials change, because retrying a bad password locks real accounts.
 * - `lockedOut`: the vendor locked the account until an instant. No attempt before `lockedUntil`.
 *
 * Messages must never contain credentials or tokens: they are logged and stored as outcome codes.
 * Each class sets `name` explicitly because minifiers rename classes.
 */
export type FailureKind = 'retryable' | 'permanent' | 'authRejected' | 'lockedOut';

export interface SourceErrorOptions extends ErrorOptions {
  retryAfterMs?: number;
  lockedUntil?: number;
}

export abstract class SourceError extends Error {
  abstract readonly kind: FailureKind;
  readonly retryAfterMs?: number;
  readonly lockedUntil?: number;
  constructor(
    message: string,
    readonly code: string,
    options?: SourceErrorOptions,
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.lockedUntil = options?.lockedUntil;
  }
}

/** Transient failure: network, timeout, HTTP 5xx/429. */
export class SourceUnavailableError extends SourceError {
  override readonly name = 'SourceUnavailableError';
  readonly kind = 'retryable' as const;
}

/** Retrying cannot help: bad request, unexpected body, unsupported configuration at the vendor. */
export class SourceRejectedError extends SourceError {
  override readonly name = 'SourceRejectedError';
  readonly kind = 'permanent' as const;
}

/** Credentials refused. The source parks until its credentials change. */
export class SourceAuthRejectedError extends SourceError {
  override readonly name = 'SourceAuthRejectedError';
  readonly kind = 'authRejected' as const;
}

/** The vendor locked the account until `lockedUntil` (epoch ms). */
export class SourceLockedOutError extends SourceError {
  override readonly name = 'SourceLockedOutError';
  readonly kind = 'lockedOut' as const;
  constructor(message: string, code: string, lockedUntil: number, options?: ErrorOptions) {
    super(message, code, { ...options, lockedUntil });
  }
}

/**
 * The vendor says the session we used is gone (e.g. Dexcom `SessionIdNotFound`). Fetch-frame logs in again once,
 * at once; if that also fails the error is reported as retryable.
 */
export class SessionInvalidError extends SourceError {
  override readonly name = 'SessionInvalidError';
  readonly kind = 'retryable' as const;
}

/** A conditional save lost against another writer; reload and re-apply. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  readonly kind = 'retryable' as const;
  readonly code = 'STORE.VERSION_CONFLICT';
}

/** Configuration is invalid; the message names the setting and what is accepted. Never contains the value of a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly kind = 'permanent' as const;
  readonly code = 'CONFIG.INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** A stored snapshot was written by a machine version we cannot migrate. */
export class SnapshotVersionError extends Error {
  override readonly name = 'SnapshotVersionError';
  readonly kind = 'permanent' as const;
  readonly code = 'STORE.SNAPSHOT_VERSION';
}

export function isSourceError(err: unknown): err is SourceError {
  return err instanceof SourceError;
}

/** A plain, storable summary of a failure: never an Error object (not serialisable, may hold secrets). */
export interface FailureSummary {
  kind: FailureKind;
  code: string;
}

/** Classify anything thrown into a storable summary. Unknown errors count as retryable (a bug or a crash). */
export function summarizeFailure(err: unknown): FailureSummary {
  if (isSourceError(err)) return { kind: err.kind, code: err.code };
  if (err instanceof VersionConflictError) return { kind: 'retryable', code: err.code };
  return { kind: 'retryable', code: 'INTERNAL.UNEXPECTED' };
}
