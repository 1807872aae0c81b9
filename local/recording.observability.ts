/**
 * Log and metric ports that record what they receive: used by the local runner (optionally echoing JSON lines),
 * the end-to-end tests (canary-secret checks read every line) and the benchmark (freshness percentiles).
 */
import type { LogPort, MetricsPort } from '../lib/ports/observability.port.js';

export class RecordingLog implements LogPort {
  readonly lines: string[] = [];
  constructor(
    private readonly echo?: (line: string) => void,
    private readonly minLevel: 'debug' | 'info' | 'warn' = 'info',
  ) {}
  private write(level: string, message: string, fields?: Record<string, unknown>) {
    const line = JSON.stringify({ level, message, ...fields });
    this.lines.push(line);
    const rank = { debug: 0, info: 1, warn: 2, error: 3 } as Record<string, number>;
    if (this.echo && rank[level] >= rank[this.minLevel]) this.echo(line);
  }
  debug(message: string, fields?: Record<string, unknown>) {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>) {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>) {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: Record<string, unknown>) {
    this.write('error', message, fields);
  }
}

export class RecordingMetrics implements MetricsPort {
  readonly counts: Record<string, number> = {};
  readonly timings: Record<string, number[]> = {};
  count(name: string, value = 1) {
    this.counts[name] = (this.counts[name] ?? 0) + value;
  }
  timing(name: string, ms: number) {
    (this.timings[name] ??= []).push(ms);
  }
}

/** Nearest-rank percentile (p in 0–100); undefined for no samples. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
