/**
 * Stand-in for the `debug` package in the Lambda bundles only (an esbuild alias in lib/config/bundling.config.ts).
 * axios's proxy agent logs through it, and only when the DEBUG environment variable names it; our logs go through
 * LogPort. The real package with its colour detection is ~7 KB minified. Same shape: a factory of disabled loggers.
 */
interface Debugger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  extend(namespace: string): Debugger;
}

export default function createDebug(namespace: string): Debugger {
  const log = (() => {}) as Debugger;
  log.enabled = false;
  log.namespace = namespace;
  log.extend = (sub: string) => createDebug(`${namespace}:${sub}`);
  return log;
}
