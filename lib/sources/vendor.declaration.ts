/**
 * What a vendor declares about itself, in `lib/sources/<vendor>/<vendor>.vendor.ts`, and the typed helper that turns
 * it into the `Vendor` everything else reads (config, CLI, status hints, the tick's machine spec, the local runner).
 *
 * A declaration is light on purpose: plain data and pure validation, no HTTP client, no driver code. Its `load()`
 * imports the implementation (`<vendor>.source.ts`) only when a frame needs it, so the tick, which needs only the
 * machine spec, never loads a driver.
 *
 * `defineVendor<Settings>` binds the typed parts (settings parser, schedule, implementation) together in one closure
 * and hands out only operations on stored (raw) settings, so a list of vendors of different setting types needs no
 * cast and cannot mix one vendor's settings into another's schedule.
 */
import { ConfigError } from '../domain/errors.js';
import type { SourceCredentials } from '../domain/source.js';
import type { MachineSpec } from '../machines/source/source.spec.js';
import type { Driver, LoopSchedule } from '../ports/driver.port.js';
import type { ParkedHints } from '../ports/source.store.port.js';
import { assembleDriver, checkSchedule, type SourceImplementation } from './driver.builder.js';
import {
  type FieldValues,
  parseFields,
  type ResolveContext,
  type SettingFields,
  settingKey,
  settingVariable,
} from './settings.fields.js';

/** One secret `CONNECT_*` variable and where it is kept in the source's vendor credentials. */
export interface SecretSpec {
  variable: string;
  /** Needed for the source to work; `{ unless }` names another credential key that can stand in for it. */
  required?: boolean | { unless: string };
  /** The problem when it is required and missing (default: `<VARIABLE> is required`). */
  missing?: string;
  /** Public by nature (an OAuth client id printed in the login URL): secret on input, not masked in output. */
  masked?: false;
}

/** Plain words for people, per vendor error code a source can be parked with. */
export type { ParkedHints };

export interface VendorDefinition<Fields extends SettingFields, Settings> {
  /** `CONNECT_SOURCE` value, lower case. */
  kind: string;
  /** Other `CONNECT_SOURCE` values accepted for this vendor (nightscout-connect's names). */
  aliases?: readonly string[];
  /** As people know the vendor, e.g. "Dexcom Share". */
  displayName: string;
  /** `device` written on documents (the writer seeds the first cursor from this source's own documents). */
  device: string;
  /** Non-secret settings, keyed by stored key (`shareRegion` is `CONNECT_SHARE_REGION`). */
  settings: Fields;
  /** Derive the settings the driver uses from the parsed fields; push cross-field problems to `ctx.problems`. */
  resolve?: (values: FieldValues<Fields>, ctx: ResolveContext) => Settings;
  /** Secret variables, keyed by the vendor credential key each is stored under. */
  secrets: Readonly<Record<string, SecretSpec>>;
  /** Secret variables read and dropped (kept out of settings; nightscout-connect had them, this product does not use them). */
  ignoredSecrets?: readonly string[];
  /** Rules on the vendor credentials beyond presence; push problems that never echo a value. */
  checkCredentials?: (vendor: Readonly<Record<string, unknown>>, problems: string[]) => void;
  /** Secrets people put inside a setting (a `?token=` in a URL): moved to the vendor credentials before validation. */
  secretsInSettings?: (settings: Readonly<Record<string, string>>) => {
    settings: Record<string, string>;
    vendor: Record<string, string>;
  };
  /** What a person must do when the source is parked with one of these codes, where "update the credentials" is wrong. */
  parked?: ParkedHints;
  /** The vendor needs a person for its first login (the `login` command); `summary` says why, for help text. */
  login?: { summary: string };
  /** check-login cannot be offered (e.g. rotating tokens a test login would consume): why, and what to do instead. */
  checkLogin?: { unavailable: string };
  /** Session lifetime when the vendor states no expiry. */
  sessionLifetimeMs: number;
  /**
   * The loops and their timing, from the settings (an interval may be a setting). Stored settings that no longer
   * validate still get a schedule: invalid values fall back to their defaults, so read only settings that have one.
   */
  schedule: (settings: Settings) => readonly LoopSchedule[];
  /** The implementation, imported on first use: `async () => (await import('./x.source.js')).xSource`. */
  load: () => Promise<SourceImplementation<Settings>>;
}

/** A registered vendor. Every operation takes stored (raw) settings; typed settings come out, never go in. */
export interface Vendor<Settings = unknown> {
  readonly kind: string;
  readonly aliases: readonly string[];
  readonly displayName: string;
  readonly device: string;
  /** Stored keys of the declared settings. */
  readonly settingKeys: readonly string[];
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly ignoredSecrets: readonly string[];
  readonly parked: ParkedHints;
  readonly login?: { summary: string };
  readonly checkLogin?: { unavailable: string };
  readonly sessionLifetimeMs: number;
  /** Validate stored settings; throws ConfigError listing every problem. */
  parseSettings(raw: Record<string, unknown>): Settings;
  /** Validate vendor credentials; throws ConfigError naming the variables, never their values. */
  checkCredentials(credentials: SourceCredentials): void;
  /**
   * The vendor credentials among `CONNECT_*` values (camelCase keys), and the settings without any secret they
   * carried (see `secretsInSettings`).
   */
  takeSecrets(
    values: Readonly<Record<string, string>>,
    settings: Readonly<Record<string, string>>,
  ): { settings: Record<string, string>; vendor: Record<string, string> };
  schedule(raw: Record<string, unknown>): LoopSchedule[];
  spec(raw: Record<string, unknown>): MachineSpec;
  /** Load the implementation and assemble the driver for these settings. */
  driver(raw: Record<string, unknown>): Promise<Driver<Settings>>;
}

export function defineVendor<Fields extends SettingFields, Settings>(
  definition: VendorDefinition<Fields, Settings> & {
    resolve: (values: FieldValues<Fields>, ctx: ResolveContext) => Settings;
  },
): Vendor<Settings>;
export function defineVendor<Fields extends SettingFields>(
  definition: VendorDefinition<Fields, FieldValues<Fields>>,
): Vendor<FieldValues<Fields>>;
export function defineVendor<Fields extends SettingFields, Settings>(
  definition: VendorDefinition<Fields, Settings>,
): Vendor<Settings> {
  const d = definition;
  const kind = d.kind.toLowerCase();
  for (const key of Object.keys(d.settings)) {
    // Stored settings are keyed by nightscout-connect's camelCase of the variable: the two must map onto each other.
    if (settingKey(settingVariable(key)) !== key)
      throw new Error(`vendor ${kind}: setting key ${key} is not the camelCase of a CONNECT_* name`);
  }
  const resolve = (values: FieldValues<Fields>, ctx: ResolveContext): Settings =>
    d.resolve ? d.resolve(values, ctx) : (values as unknown as Settings);

  /** Parse; `problems` collects every problem, and the result is still usable (invalid values at their defaults). */
  const parse = (raw: Record<string, unknown>, problems: string[]): Settings => {
    const values = parseFields(d.settings, raw, problems);
    return resolve(values, {
      problems,
      given: (key) => raw[key] !== undefined && raw[key] !== null && String(raw[key]).trim() !== '',
    });
  };

  const vendor: Vendor<Settings> = {
    kind,
    aliases: (d.aliases ?? []).map((a) => a.toLowerCase()),
    displayName: d.displayName,
    device: d.device,
    settingKeys: Object.keys(d.settings),
    secrets: d.secrets,
    ignoredSecrets: d.ignoredSecrets ?? [],
    parked: d.parked ?? {},
    ...(d.login ? { login: d.login } : {}),
    ...(d.checkLogin ? { checkLogin: d.checkLogin } : {}),
    sessionLifetimeMs: d.sessionLifetimeMs,
    parseSettings(raw) {
      const problems: string[] = [];
      const settings = parse(raw, problems);
      if (problems.length > 0) throw new ConfigError(problems);
      return settings;
    },
    checkCredentials(credentials) {
      const problems = credentialProblems(d.secrets, credentials?.vendor ?? {});
      d.checkCredentials?.(credentials?.vendor ?? {}, problems);
      if (problems.length > 0) throw new ConfigError(problems);
    },
    takeSecrets(values, settings) {
      const vendorCredentials: Record<string, string> = {};
      for (const [credentialKey, spec] of Object.entries(d.secrets)) {
        const value = values[settingKey(spec.variable)];
        if (value !== undefined && value !== '') vendorCredentials[credentialKey] = value;
      }
      if (!d.secretsInSettings) return { settings: { ...settings }, vendor: vendorCredentials };
      const moved = d.secretsInSettings(settings);
      return { settings: moved.settings, vendor: { ...vendorCredentials, ...moved.vendor } };
    },
    schedule(raw) {
      const schedule = [...d.schedule(parse(raw, []))];
      checkSchedule(kind, schedule);
      return schedule;
    },
    spec(raw) {
      return {
        kind,
        sessionLifetimeMs: d.sessionLifetimeMs,
        loops: vendor.schedule(raw).map(({ name, intervalMs, align, attempts, retry, backoff }) => ({
          name,
          intervalMs,
          align,
          attempts,
          retry,
          backoff,
        })),
      };
    },
    async driver(raw) {
      return assembleDriver(vendor, await d.load(), raw);
    },
  };
  return vendor;
}

/** Required secrets that are missing (or not text), as problems naming the variable. */
function credentialProblems(
  secrets: Readonly<Record<string, SecretSpec>>,
  vendor: Readonly<Record<string, unknown>>,
): string[] {
  const problems: string[] = [];
  const present = (key: string) => typeof vendor[key] === 'string' && (vendor[key] as string).trim() !== '';
  for (const [key, spec] of Object.entries(secrets)) {
    const value = vendor[key];
    // A number here means a config loader parsed a numeric password (and may have dropped leading zeros).
    if (typeof value === 'number') {
      problems.push(`${spec.variable} must be text; quote numeric values`);
      continue;
    }
    if (!spec.required || present(key)) continue;
    if (typeof spec.required === 'object' && present(spec.required.unless)) continue;
    problems.push(spec.missing ?? `${spec.variable} is required`);
  }
  return problems;
}
