/**
 * The one way vendor settings are declared and validated. A vendor lists its settings as fields keyed by the stored
 * key (nightscout-connect's camelCase of the variable: `shareRegion` is `CONNECT_SHARE_REGION`); each field parses
 * the stored value and names the variable in every problem, so messages read the same for every vendor.
 *
 * Rules shared by all fields:
 * - stored values are strings (CONNECT_* text), or numbers and booleans from older stores; blank means absent;
 * - a field with a default always yields a value; one without yields `undefined` when absent or invalid (the problem
 *   is reported, and the vendor's `resolve` still runs, so one pass reports every problem);
 * - URLs are https, plain http only on loopback (`http.policy.ts`: 127.0.0.1, localhost, ::1), never with a user
 *   name or password; the HTTP timeout has one rule for every vendor (`httpTimeout`).
 * Nothing here echoes a value that could be secret: URL problems never quote the URL.
 */
import { HTTP_TIMEOUT_BOUNDS, isLoopbackHost } from '../adapters/http/http.policy.js';

export interface SettingField<T> {
  /** Parse a stored value; push problems that name `variable` and what is accepted. */
  parse(raw: unknown, variable: string, problems: string[]): T;
}

export type SettingFields = Record<string, SettingField<unknown>>;

export type FieldValues<F extends SettingFields> = { [K in keyof F]: F[K] extends SettingField<infer T> ? T : never };

/** What a vendor's `resolve` may consult besides the parsed values. */
export interface ResolveContext {
  problems: string[];
  /** Whether a value was given for the key (present and not blank), valid or not. */
  given(key: string): boolean;
}

/** `shareRegion` → `CONNECT_SHARE_REGION`. */
export function settingVariable(key: string): string {
  return `CONNECT_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
}

/** `CONNECT_SHARE_ACCOUNT_NAME` → `shareAccountName` (nightscout-connect's camel-casing). */
export function settingKey(variable: string): string {
  return variable
    .replace(/^CONNECT_/, '')
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Stored value as trimmed text; undefined when absent or blank. */
export function textOf(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = String(raw).trim();
  return text === '' ? undefined : text;
}

export function parseFields<F extends SettingFields>(
  fields: F,
  raw: Readonly<Record<string, unknown>>,
  problems: string[],
): FieldValues<F> {
  const values: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields))
    values[key] = field.parse(raw[key], settingVariable(key), problems);
  return values as FieldValues<F>;
}

/** A field written by the vendor, for rules no other vendor shares. */
export function field<T>(parse: (raw: unknown, variable: string, problems: string[]) => T): SettingField<T> {
  return { parse };
}

interface TextOptions {
  /** Problem text after "<VARIABLE> is required: " when absent. */
  required?: string;
  pattern?: RegExp;
  /** Problem text after "<VARIABLE> must " when the pattern does not match. */
  expected?: string;
  singleLine?: boolean;
}

export function text(options: TextOptions & { default: string }): SettingField<string>;
export function text(options?: TextOptions): SettingField<string | undefined>;
export function text(options: TextOptions & { default?: string } = {}): SettingField<string | undefined> {
  return field((raw, variable, problems) => {
    const value = textOf(raw);
    if (value === undefined) {
      if (options.required) problems.push(`${variable} is required: ${options.required}`);
      return options.default;
    }
    if (options.singleLine && /[\r\n]/.test(value)) {
      problems.push(`${variable} must be a single line`);
      return options.default;
    }
    if (options.pattern && !options.pattern.test(value)) {
      problems.push(`${variable} must ${options.expected ?? `match ${options.pattern.source}`}`);
      return options.default;
    }
    return value;
  });
}

/** One of a few words, case-insensitive. */
export function oneOf<const V extends string>(values: readonly V[], options: { default: V }): SettingField<V>;
export function oneOf<const V extends string>(
  values: readonly V[],
  options?: { default?: undefined },
): SettingField<V | undefined>;
export function oneOf<const V extends string>(
  values: readonly V[],
  options: { default?: V } = {},
): SettingField<V | undefined> {
  return field((raw, variable, problems) => {
    const value = textOf(raw)?.toLowerCase();
    if (value === undefined) return options.default;
    const match = values.find((v) => v.toLowerCase() === value);
    if (match === undefined) problems.push(`${variable} must be one of: ${values.join(', ')}`);
    return match ?? options.default;
  });
}

interface IntegerOptions {
  min: number;
  max: number;
  /** Named in the problem: "a whole number of <unit>". */
  unit?: string;
}

export function integer(options: IntegerOptions & { default: number }): SettingField<number>;
export function integer(options: IntegerOptions): SettingField<number | undefined>;
export function integer(options: IntegerOptions & { default?: number }): SettingField<number | undefined> {
  return field((raw, variable, problems) => {
    const value = textOf(raw);
    if (value === undefined) return options.default;
    const n = Number(value);
    if (Number.isInteger(n) && n >= options.min && n <= options.max) return n;
    problems.push(
      `${variable} must be a whole number${options.unit ? ` of ${options.unit}` : ''} from ${options.min} to ${options.max}` +
        `${options.default !== undefined ? ` (default ${options.default})` : ''}`,
    );
    return options.default;
  });
}

/**
 * The per-request HTTP timeout, the same rule for every vendor (it used to be 1 ms at the least for one and 100 ms for
 * the others). Absent means the HTTP client's default.
 */
export function httpTimeout(): SettingField<number | undefined> {
  const { minMs, maxMs } = HTTP_TIMEOUT_BOUNDS;
  return field((raw, variable, problems) => {
    const value = textOf(raw);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (Number.isInteger(n) && n >= minMs && n <= maxMs) return n;
    problems.push(`${variable} (httpTimeoutMs) must be a whole number of milliseconds from ${minMs} to ${maxMs}`);
    return undefined;
  });
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export function boolean(options: { default: boolean }): SettingField<boolean> {
  return field((raw, variable, problems) => {
    const value = textOf(raw)?.toLowerCase();
    if (value === undefined) return options.default;
    if (TRUE.includes(value)) return true;
    if (FALSE.includes(value)) return false;
    problems.push(`${variable} must be true or false`);
    return options.default;
  });
}

/** An IANA time zone name the runtime knows (Europe/Berlin), or an alias such as UTC. */
export function ianaZone(): SettingField<string | undefined> {
  return field((raw, variable, problems) => {
    const value = textOf(raw);
    if (value === undefined) return undefined;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return value;
    } catch {
      problems.push(`${variable} must be an IANA time zone name such as Europe/Berlin or America/New_York`);
      return undefined;
    }
  });
}

interface UrlOptions {
  /** A host shown in problems, e.g. `share2.dexcom.com`. */
  example: string;
  /** Accept a bare host name and assume https (default true); false demands an absolute URL. */
  bareHost?: boolean;
  /** A path: refused (an origin only), dropped (the origin is used) or kept (a base URL under a sub-path). */
  path: 'refuse' | 'drop' | 'keep';
  /** A query string: refused (default), dropped, or kept (with `path: 'keep'`). A fragment is never kept. */
  query?: 'refuse' | 'drop' | 'keep';
  /** Problem text after "<VARIABLE> is required: " when absent. */
  required?: string;
}

/**
 * A host name or an https URL, plain http only on loopback. Yields the origin (`path: 'refuse' | 'drop'`) or the base
 * URL without trailing slashes (`path: 'keep'`). Problems never quote the value: people paste URLs with tokens in them.
 */
export function url(options: UrlOptions): SettingField<string | undefined> {
  const bareHost = options.bareHost ?? true;
  const query = options.query ?? (options.path === 'drop' ? 'drop' : 'refuse');
  return field((raw, variable, problems) => {
    const value = textOf(raw);
    if (value === undefined) {
      if (options.required) problems.push(`${variable} is required: ${options.required}`);
      return undefined;
    }
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
    let parsed: URL;
    try {
      if (!hasScheme && !bareHost) throw new TypeError('no scheme');
      parsed = new URL(hasScheme ? value : `https://${value}`);
    } catch {
      problems.push(
        bareHost
          ? `${variable} must be a host name (e.g. ${options.example}) or an https:// URL`
          : `${variable} must be an absolute https:// URL (e.g. https://${options.example})`,
      );
      return undefined;
    }
    if (parsed.username || parsed.password) {
      problems.push(`${variable} must not contain a user name or password`);
      return undefined;
    }
    if (!(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)))) {
      problems.push(`${variable} must use https:// (plain http:// is allowed only for 127.0.0.1, localhost or [::1])`);
      return undefined;
    }
    const hasPath = parsed.pathname !== '/' && parsed.pathname !== '';
    const hasQuery = parsed.search !== '' || parsed.hash !== '';
    if (options.path === 'refuse' && (hasPath || (hasQuery && query === 'refuse'))) {
      problems.push(`${variable} must be a host name or origin only, without a path (e.g. https://${options.example})`);
      return undefined;
    }
    if (hasQuery && query === 'refuse') {
      problems.push(`${variable} must not contain a query (?…) or fragment (#…)`);
      return undefined;
    }
    if (options.path !== 'keep') return parsed.origin;
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}${query === 'keep' ? parsed.search : ''}`;
  });
}
