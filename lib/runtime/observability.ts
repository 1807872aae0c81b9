/**
 * One structured logger and one EMF metrics buffer per process, exposed through the narrow ports lib/app uses.
 *
 * Both write what Powertools Logger and Metrics wrote before them, so log queries, the dashboard and the alarms read
 * the same thing (Powertools cost a sixth of the tick's bundle and a good part of its load time):
 * - a log line is one JSON object `{level, message, timestamp, service, sampling_rate, xray_trace_id?, ...fields}`;
 *   DEBUG and INFO go to stdout, WARN and ERROR to stderr; the threshold is POWERTOOLS_LOG_LEVEL (default INFO);
 * - metrics are CloudWatch Embedded Metric Format documents in namespace POWERTOOLS_METRICS_NAMESPACE with the one
 *   dimension `service` (POWERTOOLS_SERVICE_NAME), values of a metric recorded twice as an array, flushed at the
 *   end of each invocation, or early when a document would pass EMF's limits (100 metrics, 100 values each).
 * Metrics carry no per-source dimension: each dimension value costs money every month; per-source detail lives in
 * the structured logs.
 */
import type { LogPort, MetricsPort } from '../ports/observability.port.js';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const LEVEL_RANK: Record<LogLevel, number> = { DEBUG: 8, INFO: 12, WARN: 16, ERROR: 20 };

export type Write = (line: string, stream: 'stdout' | 'stderr') => void;
const writeToProcess: Write = (line, stream) => {
  (stream === 'stderr' ? process.stderr : process.stdout).write(`${line}\n`);
};

export interface JsonLoggerOptions {
  service: string;
  /** Unknown values fall back to INFO. */
  level?: string;
  write?: Write;
  now?: () => number;
  /** The X-Ray trace id of the current invocation (Lambda sets `_X_AMZN_TRACE_ID` per invocation). */
  traceId?: () => string | undefined;
}

/** Error → plain object (name, message, stack, cause); bigint → string; repeated references → '[Circular]'. */
function jsonReplacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return function replace(_key, value) {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) {
      return {
        name: value.name,
        message: value.message,
        stack: value.stack,
        ...(value.cause !== undefined ? { cause: value.cause } : {}),
      };
    }
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

/** A LogPort writing one JSON line per entry at or above `level`. Fields cannot overwrite the envelope keys. */
export function createJsonLogger(options: JsonLoggerOptions): LogPort {
  const write = options.write ?? writeToProcess;
  const now = options.now ?? Date.now;
  const level = (options.level?.toUpperCase() ?? 'INFO') as LogLevel;
  const threshold = LEVEL_RANK[level] ?? LEVEL_RANK.INFO;
  const log = (entryLevel: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (LEVEL_RANK[entryLevel] < threshold) return;
    const traceId = options.traceId?.();
    const envelope = {
      level: entryLevel,
      message,
      timestamp: new Date(now()).toISOString(),
      service: options.service,
      sampling_rate: 0,
      ...(traceId ? { xray_trace_id: traceId } : {}),
    };
    // The envelope's keys come first (as Powertools printed them) and keep their values whatever the fields hold.
    const line = JSON.stringify({ ...envelope, ...fields, ...envelope }, jsonReplacer());
    write(line, entryLevel === 'WARN' || entryLevel === 'ERROR' ? 'stderr' : 'stdout');
  };
  return {
    debug: (message, fields) => log('DEBUG', message, fields),
    info: (message, fields) => log('INFO', message, fields),
    warn: (message, fields) => log('WARN', message, fields),
    error: (message, fields) => log('ERROR', message, fields),
  };
}

export interface EmfMetricsOptions {
  namespace: string;
  service: string;
  write?: Write;
  now?: () => number;
}

/** EMF's limits per document: metrics per directive and values per metric. */
export const EMF_MAX_METRICS = 100;
export const EMF_MAX_VALUES = 100;

type Unit = 'Count' | 'Milliseconds';

/** A MetricsPort buffering values until `flush()` writes them as one EMF document (nothing when empty). */
export function createEmfMetrics(options: EmfMetricsOptions): MetricsPort & { flush(): void } {
  const write = options.write ?? writeToProcess;
  const now = options.now ?? Date.now;
  let stored = new Map<string, { unit: Unit; values: number[] }>();
  const flush = () => {
    if (stored.size === 0) return;
    const metrics = [...stored];
    stored = new Map();
    const document: Record<string, unknown> = {
      _aws: {
        Timestamp: now(),
        CloudWatchMetrics: [
          {
            Namespace: options.namespace,
            Dimensions: [['service']],
            Metrics: metrics.map(([name, { unit }]) => ({ Name: name, Unit: unit })),
          },
        ],
      },
      service: options.service,
    };
    for (const [name, { values }] of metrics) document[name] = values.length === 1 ? values[0] : values;
    write(JSON.stringify(document), 'stdout');
  };
  const add = (name: string, unit: Unit, value: number) => {
    let metric = stored.get(name);
    if (!metric) {
      if (stored.size >= EMF_MAX_METRICS) flush();
      metric = { unit, values: [] };
      stored.set(name, metric);
    }
    metric.values.push(value);
    if (metric.values.length >= EMF_MAX_VALUES) flush();
  };
  return {
    count: (name, value = 1) => add(name, 'Count', value),
    timing: (name, ms) => add(name, 'Milliseconds', ms),
    flush,
  };
}

/** The X-Ray trace id (`Root=…`) from the header Lambda puts in the environment for each invocation. */
function currentTraceId(): string | undefined {
  return process.env._X_AMZN_TRACE_ID?.split(';')[0]?.replace(/^Root=/, '') || undefined;
}

const service = process.env.POWERTOOLS_SERVICE_NAME || 'service_undefined';

export const logPort: LogPort = createJsonLogger({
  service,
  level: process.env.POWERTOOLS_LOG_LEVEL,
  traceId: currentTraceId,
});

const metrics = createEmfMetrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'NightscoutConnect',
  service,
});

export const metricsPort: MetricsPort = metrics;

/** Flush EMF metrics at the end of an invocation. */
export function flushMetrics(): void {
  metrics.flush();
}
