/**
 * The process's own clock, and the null log and metrics used where nobody listens (the CLI, one-off checks, tests).
 * Adapters of the observability port; the machines never see a clock, only instants carried by events.
 */
import type { Clock, LogPort, MetricsPort } from '../../ports/observability.port.js';

export const systemClock: Clock = { now: () => Date.now() };
export const silentLog: LogPort = { debug() {}, info() {}, warn() {}, error() {} };
export const noMetrics: MetricsPort = { count() {}, timing() {} };
