/** The narrow logging surface lib/app and lib/sources use; Powertools Logger satisfies it. */
export interface LogPort {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Counters without per-source dimensions (each dimension value costs money every month). */
export interface MetricsPort {
  count(name: string, value?: number): void;
  timing(name: string, ms: number): void;
}

export interface Clock {
  now(): number;
}
