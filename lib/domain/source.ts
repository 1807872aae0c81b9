/**
 * A configured source: which vendor, its non-secret settings and where its data goes. Credentials are kept apart
 * (see `credential.store.port.ts`) so this object may be logged, stored beside the snapshot and shown in status.
 */
export interface NightscoutTarget {
  /** Base URL of the Nightscout site, e.g. https://my.ns.example (plain http only for loopback). */
  endpoint: string;
  apiVersion: 'v1' | 'v3';
}

export interface SourceConfig {
  id: string;
  /** Driver kind, e.g. `dexcomshare`. */
  kind: string;
  /** Driver-specific, already validated, never secret (region, server, interval…). */
  settings: Record<string, string | number | boolean>;
  nightscout: NightscoutTarget;
}

/** Secret material for one source. Lives only in the credential store and in memory while a frame runs. */
export interface SourceCredentials {
  /** Vendor login, e.g. `{ accountName, password }` for Dexcom Share. */
  vendor: Record<string, string>;
  /** Nightscout write access: the API secret (sent as its SHA-1) or an access token. */
  nightscout: { apiSecret?: string; token?: string };
}
