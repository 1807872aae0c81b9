/**
 * Lookups over the registered vendors (vendor.registry.ts): kinds and aliases, the machine spec of a configured source
 * (declarations only: what the tick uses), its declared device and loops (declarations only: what persist uses), its
 * driver (implementation loaded on first use: what fetch-frame uses), and the parked-state hints. Unknown kinds are rejected with a clear message (nightscout-connect silently fell
 * back to a fake driver); kinds match case-insensitively, aliases included.
 */
import { ConfigError } from '../domain/errors.js';
import type { SourceConfig } from '../domain/source.js';
import type { DeclarationFor, Driver, DriverFor, LoopSchedule, SpecFor } from '../ports/driver.port.js';
import type { ParkedHints, Vendor } from './vendor.declaration.js';
import * as registry from './vendor.registry.js';

/** The registered vendors, by kind. */
export const VENDORS: readonly Vendor[] = checked(Object.values(registry)).sort((a, b) => a.kind.localeCompare(b.kind));

export const SOURCE_KINDS: readonly string[] = VENDORS.map((v) => v.kind);

/** `dexcomshare, glooko, …` for help text and messages. */
export const KIND_LIST = SOURCE_KINDS.join(', ');

const BY_NAME = new Map<string, Vendor>(
  VENDORS.flatMap((v) => [[v.kind, v], ...v.aliases.map((a) => [a, v] as [string, Vendor])]),
);

/** What a person must do, per vendor code a source can be parked with (codes are vendor-prefixed, so one map). */
export const PARKED_HINTS: ParkedHints = Object.freeze(Object.assign({}, ...VENDORS.map((v) => v.parked)));

/** The vendor for a `CONNECT_SOURCE` value, or a ConfigError naming the accepted values. */
export function vendorFor(kind: string): Vendor {
  const vendor = BY_NAME.get(kind.trim().toLowerCase());
  if (!vendor)
    throw new ConfigError([`CONNECT_SOURCE: unknown source "${kind}"; accepted: ${[...BY_NAME.keys()].join(', ')}`]);
  return vendor;
}

export function canonicalKind(kind: string): string {
  return vendorFor(kind).kind;
}

export const specFor: SpecFor = (config) => vendorFor(config.kind).spec(config.settings);

/** A configured source's loops as declared: the machine's timing plus look-back and re-read window. */
export function scheduleFor(config: Pick<SourceConfig, 'kind' | 'settings'>): LoopSchedule[] {
  return vendorFor(config.kind).schedule(config.settings);
}

export const declarationFor: DeclarationFor = (config) => {
  const vendor = vendorFor(config.kind);
  return { device: vendor.device, loops: vendor.schedule(config.settings) };
};

/** Assembled drivers per kind and settings (settings may shape the loops); bounded, as a process may serve many sources. */
const drivers = new Map<string, Promise<Driver>>();
const MAX_CACHED_DRIVERS = 500;

export const driverFor: DriverFor = (config) => {
  const vendor = vendorFor(config.kind);
  const key = `${vendor.kind}\u0000${stableJson(config.settings)}`;
  let driver = drivers.get(key);
  if (!driver) {
    driver = vendor.driver(config.settings);
    drivers.set(key, driver);
    // A failed import must not stick: the next frame tries again.
    driver.catch(() => drivers.delete(key));
    if (drivers.size > MAX_CACHED_DRIVERS) drivers.delete(drivers.keys().next().value as string);
  }
  return driver;
};

function stableJson(settings: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(
    Object.keys(settings)
      .sort()
      .map((k) => [k, settings[k]]),
  );
}

/** Programming errors in the declarations, found when the registry loads: two vendors claiming one name or code. */
function checked(vendors: Vendor[]): Vendor[] {
  const names = new Map<string, string>();
  const codes = new Map<string, string>();
  const variables = new Map<string, string>();
  const claim = (seen: Map<string, string>, what: string, value: string, kind: string) => {
    const owner = seen.get(value);
    if (owner !== undefined && owner !== kind)
      throw new Error(`vendor registry: ${what} ${value} is claimed by ${owner} and ${kind}`);
    seen.set(value, kind);
  };
  for (const v of vendors) {
    if (!/^[a-z][a-z0-9]*$/.test(v.kind))
      throw new Error(`vendor registry: kind ${v.kind} must be lower-case letters and digits`);
    for (const name of [v.kind, ...v.aliases]) claim(names, 'source name', name, v.kind);
    for (const code of Object.keys(v.parked)) claim(codes, 'parked code', code, v.kind);
    for (const spec of Object.values(v.secrets)) claim(variables, 'secret variable', spec.variable, v.kind);
  }
  return vendors;
}
