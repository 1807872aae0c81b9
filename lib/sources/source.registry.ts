/**
 * The driver registry: every vendor driver registers here under its kind. Unknown kinds are rejected with a clear
 * message (nightscout-connect silently fell back to a fake driver). Kinds are matched case-insensitively and
 * nightscout-connect's `linkup` is accepted for LibreLinkUp.
 */
import { ConfigError } from '../domain/errors.js';
import type { SourceConfig } from '../domain/source.js';
import type { Driver } from './driver.builder.js';
import { dexcomShareDriver } from './dexcom-share/dexcom-share.source.js';
import { createLibreLinkUpDriver, libreLinkUpDriver } from './librelinkup/librelinkup.source.js';
import { glookoDriver } from './glooko/glooko.source.js';
import { nightscoutSourceDriver } from './nightscout/nightscout.source.js';
import { careLinkDriver } from './carelink/carelink.source.js';

const DRIVERS: Record<string, Driver> = {
  dexcomshare: dexcomShareDriver as Driver,
  librelinkup: libreLinkUpDriver as Driver,
  glooko: glookoDriver as Driver,
  nightscout: nightscoutSourceDriver as Driver,
  minimedcarelink: careLinkDriver as Driver,
};
const ALIASES: Record<string, string> = { linkup: 'librelinkup' };

export const SOURCE_KINDS = Object.keys(DRIVERS);

export function canonicalKind(kind: string): string {
  const lower = kind.trim().toLowerCase();
  const canonical = ALIASES[lower] ?? lower;
  if (!DRIVERS[canonical]) {
    throw new ConfigError([`CONNECT_SOURCE: unknown source "${kind}"; accepted: ${[...SOURCE_KINDS, ...Object.keys(ALIASES)].join(', ')}`]);
  }
  return canonical;
}

const libreByInterval = new Map<number, Driver>();

/** The driver for a configured source. LibreLinkUp's loop interval is per source, so it is built per interval. */
export function driverFor(config: Pick<SourceConfig, 'kind' | 'settings'>): Driver {
  const kind = canonicalKind(config.kind);
  if (kind === 'librelinkup') {
    const minutes = Number(config.settings.linkUpInterval ?? 5);
    if (minutes === 5 || !Number.isFinite(minutes)) return DRIVERS.librelinkup;
    let driver = libreByInterval.get(minutes);
    if (!driver) {
      driver = createLibreLinkUpDriver({ intervalMinutes: minutes }) as Driver;
      libreByInterval.set(minutes, driver);
    }
    return driver;
  }
  return DRIVERS[kind];
}
