/**
 * One Powertools Logger and Metrics per process (service name from POWERTOOLS_SERVICE_NAME, set by the construct),
 * exposed through the narrow ports lib/app uses. Metrics carry no per-source dimension: each dimension value costs
 * money every month; per-source detail lives in the structured logs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LogPort, MetricsPort } from '../ports/observability.port.js';

export const logger = new Logger();
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'NightscoutConnect' });

export const logPort: LogPort = {
  debug: (message, fields) => logger.debug(message, fields ?? {}),
  info: (message, fields) => logger.info(message, fields ?? {}),
  warn: (message, fields) => logger.warn(message, fields ?? {}),
  error: (message, fields) => logger.error(message, fields ?? {}),
};

export const metricsPort: MetricsPort = {
  count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
  timing: (name, ms) => metrics.addMetric(name, MetricUnit.Milliseconds, ms),
};

/** Flush EMF metrics at the end of an invocation. */
export function flushMetrics(): void {
  metrics.publishStoredMetrics();
}
