/**
 * Abbott LibreLinkUp, declared: settings, secrets, parked-state hints and schedule (the implementation is
 * librelinkup.source.ts). nightscout-connect called the same source `linkup`; both names are accepted. The poll
 * interval is a setting (CONNECT_LINK_UP_INTERVAL), so the schedule is computed per source.
 */
import type { RereadWindow } from '../../domain/records.js';
import { boolean, field, httpTimeout, integer, text, textOf, url } from '../settings.fields.js';
import { defineVendor } from '../vendor.declaration.js';

export const LIBRELINKUP_KIND = 'librelinkup';
/** nightscout-connect's `CONNECT_SOURCE` value for this vendor. */
export const LIBRELINKUP_LEGACY_KIND = 'linkup';
export const LIBRELINKUP_DEVICE = 'nightscout-connect-librelinkup';

/** Abbott's regional API hosts (peers.md §B.1). Overridable per source with CONNECT_LINK_UP_HOSTS. */
export const LIBRELINKUP_HOSTS: Readonly<Record<string, string>> = {
  AE: 'api-ae.libreview.io',
  AP: 'api-ap.libreview.io',
  AU: 'api-au.libreview.io',
  CA: 'api-ca.libreview.io',
  DE: 'api-de.libreview.io',
  EU: 'api-eu.libreview.io',
  EU2: 'api-eu2.libreview.io',
  FR: 'api-fr.libreview.io',
  JP: 'api-jp.libreview.io',
  US: 'api-us.libreview.io',
  LA: 'api-la.libreview.io',
  RU: 'api.libreview.ru',
  CN: 'api-cn.myfreestyle.cn',
};
const REGION_ALIASES: Record<string, string> = { UK: 'EU2', GB: 'EU2' };

export const DEFAULT_LINK_UP_VERSION = '4.16.0';
export const DEFAULT_LINK_UP_PRODUCT = 'llu.android';

/**
 * The graph history lags the current reading by 15–20 min, so each poll's graph rows land behind the cursor (which the
 * previous poll's current reading advanced). They stay candidates for an hour, three times the reported lag; the
 * writer skips what Nightscout already holds. Libre readings come once a minute, so two items less than half a
 * minute apart are the same sensor reading (a graph row and the current reading may carry the same minute with
 * different seconds).
 */
export const LIBRELINKUP_REREAD: RereadWindow = { windowMs: 60 * 60_000, sameReadingMs: 30_000 };

/** Used only when the login answer has no `authTicket.expires`. */
const FALLBACK_SESSION_LIFETIME_MS = 60 * 60_000;

export interface LibreLinkUpSettings {
  /** Upper-case region key (aliases resolved), or undefined when only a server was given. */
  linkUpRegion?: string;
  /** Explicit base URL for the first login (wins over the region). */
  linkUpServer?: string;
  linkUpVersion: string;
  linkUpProduct: string;
  linkUpPatientId?: string;
  /** Minutes between polls, 1–60. */
  linkUpInterval: number;
  linkUpAutoAcceptTerms: boolean;
  linkUpUserAgent?: string;
  /** Region → base URL (defaults merged with CONNECT_LINK_UP_HOSTS). */
  linkUpHosts: Record<string, string>;
  httpTimeoutMs?: number;
}

export function canonicalRegion(value: string): string {
  const upper = value.trim().toUpperCase();
  return REGION_ALIASES[upper] ?? upper;
}

/** A region label fit for a message: an unknown region from a vendor answer or a setting is not echoed verbatim. */
export function safeLabel(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '?').slice(0, 16);
}

const hostUrl = url({ example: 'api-eu2.libreview.io', path: 'keep' });

/** CONNECT_LINK_UP_HOSTS: a JSON object region → host or URL; it may add a region Abbott introduced after this code. */
const hostOverrides = field((raw, variable, problems): Record<string, string> => {
  if (textOf(raw) === undefined) return {};
  let parsed: unknown = raw;
  if (typeof raw === 'string') {
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${variable} must be a JSON object mapping region to host, e.g. {"EU2":"api-eu2.libreview.io"}`);
    return {};
  }
  const hosts: Record<string, string> = {};
  for (const [region, host] of Object.entries(parsed as Record<string, unknown>)) {
    const entryProblems: string[] = [];
    const base = typeof host === 'string' ? hostUrl.parse(host, variable, entryProblems) : undefined;
    if (!base)
      problems.push(
        `${variable} entry ${safeLabel(region)}: expected a host name or https URL (plain http only for loopback)`,
      );
    else hosts[canonicalRegion(region)] = base;
  }
  return hosts;
});

export const libreLinkUpVendor = defineVendor({
  kind: LIBRELINKUP_KIND,
  aliases: [LIBRELINKUP_LEGACY_KIND],
  displayName: 'LibreLinkUp',
  device: LIBRELINKUP_DEVICE,
  settings: {
    linkUpRegion: text(),
    linkUpServer: url({ example: 'api-eu.libreview.io', path: 'keep' }),
    linkUpHosts: hostOverrides,
    linkUpVersion: text({
      default: DEFAULT_LINK_UP_VERSION,
      pattern: /^\d+(\.\d+){1,3}$/,
      expected: 'look like 4.16.0',
    }),
    linkUpProduct: text({
      default: DEFAULT_LINK_UP_PRODUCT,
      pattern: /^[A-Za-z0-9._-]{1,40}$/,
      expected: 'be a short token such as llu.android or llu.ios',
    }),
    linkUpPatientId: text(),
    linkUpInterval: integer({ min: 1, max: 60, default: 5, unit: 'minutes' }),
    linkUpAutoAcceptTerms: boolean({ default: false }),
    linkUpUserAgent: text({ singleLine: true }),
    httpTimeoutMs: httpTimeout(),
  },
  resolve: (v, ctx): LibreLinkUpSettings => {
    const hosts: Record<string, string> = {};
    for (const [region, host] of Object.entries(LIBRELINKUP_HOSTS)) hosts[region] = `https://${host}`;
    Object.assign(hosts, v.linkUpHosts);
    let linkUpRegion: string | undefined;
    if (v.linkUpRegion !== undefined) {
      const region = canonicalRegion(v.linkUpRegion);
      if (hosts[region]) linkUpRegion = region;
      else
        ctx.problems.push(`CONNECT_LINK_UP_REGION must be one of ${Object.keys(hosts).join(' ')} (UK and GB mean EU2)`);
    } else if (!ctx.given('linkUpServer')) {
      linkUpRegion = 'EU';
    }
    return {
      ...(linkUpRegion !== undefined ? { linkUpRegion } : {}),
      ...(v.linkUpServer !== undefined ? { linkUpServer: v.linkUpServer } : {}),
      linkUpVersion: v.linkUpVersion,
      linkUpProduct: v.linkUpProduct,
      ...(v.linkUpPatientId !== undefined ? { linkUpPatientId: v.linkUpPatientId } : {}),
      linkUpInterval: v.linkUpInterval,
      linkUpAutoAcceptTerms: v.linkUpAutoAcceptTerms,
      ...(v.linkUpUserAgent !== undefined ? { linkUpUserAgent: v.linkUpUserAgent } : {}),
      linkUpHosts: hosts,
      ...(v.httpTimeoutMs !== undefined ? { httpTimeoutMs: v.httpTimeoutMs } : {}),
    };
  },
  secrets: {
    username: {
      variable: 'CONNECT_LINK_UP_USERNAME',
      required: true,
      missing: 'CONNECT_LINK_UP_USERNAME (the LibreLinkUp follower e-mail) is required',
    },
    password: { variable: 'CONNECT_LINK_UP_PASSWORD', required: true },
  },
  parked: {
    'LIBRELINKUP.TERMS_REQUIRED':
      'accept the new terms in the LibreLinkUp app, then save the credentials again (`nightscout-connect sources update-credentials <id>`) to resume',
  },
  sessionLifetimeMs: FALLBACK_SESSION_LIFETIME_MS,
  schedule: (settings) => {
    const intervalMs = settings.linkUpInterval * 60_000;
    return [
      {
        name: 'LibreLinkUp',
        intervalMs,
        align: { lagMs: 10_000, jitterMs: 8_000 },
        attempts: 3,
        retry: { baseMs: 60_000, capMs: Math.max(60_000, intervalMs) },
        backoff: { baseMs: intervalMs, capMs: 30 * 60_000 },
        maxLookbackMs: 12 * 60 * 60_000,
        // Graph rows appear 15–20 min behind the current reading, i.e. behind the cursor: keep them for an hour.
        reread: LIBRELINKUP_REREAD,
      },
    ];
  },
  load: async () => (await import('./librelinkup.source.js')).libreLinkUpSource,
});
