/**
 * Secret input for the CLI. Secrets come only from stdin or a file, never from argv (argv is visible to every user
 * of the machine through `ps` and lands in shell history). Parse errors name the line number, never its content.
 *
 * Accepted formats (stdin, `--secrets-file`, `--file`):
 * - `KEY=VALUE` lines (`export ` prefix, blank lines and `#` comments allowed, optional matching quotes);
 * - a JSON object of `CONNECT_*` keys.
 */
import { readFile } from 'node:fs/promises';
import type { SourceCredentials } from '../domain/source.js';
import { VENDORS } from '../sources/vendor.catalog.js';
import type { SecretSpec } from '../sources/vendor.declaration.js';
import { UsageError } from './argv.js';

/**
 * Where each secret `CONNECT_*` variable lands in `SourceCredentials`, per kind: the Nightscout secrets, then what the
 * vendor declares (its `secrets`). `required` marks the keys a source cannot work without.
 */
interface SecretField {
  key: string;
  part: 'vendor' | 'nightscout';
  field: string;
  required?: SecretSpec['required'];
}

const NIGHTSCOUT_FIELDS: SecretField[] = [
  { key: 'CONNECT_API_SECRET', part: 'nightscout', field: 'apiSecret' },
  { key: 'CONNECT_NIGHTSCOUT_TOKEN', part: 'nightscout', field: 'token' },
];

function vendorFields(kind: string): SecretField[] {
  const vendor = VENDORS.find((v) => v.kind === kind);
  return Object.entries(vendor?.secrets ?? {}).map(([field, spec]) => ({
    key: spec.variable,
    part: 'vendor' as const,
    field,
    required: spec.required,
  }));
}

const KNOWN_SECRET_KEYS = new Set([
  ...NIGHTSCOUT_FIELDS.map((f) => f.key),
  ...VENDORS.flatMap((v) => [...Object.values(v.secrets).map((spec) => spec.variable), ...v.ignoredSecrets]),
]);

/** Anything that looks like a credential or a personal identifier is treated as secret, known or not. */
const SECRET_PATTERN =
  /(PASSWORD|PASSWD|SECRET|TOKEN|ACCOUNT_NAME|USERNAME|EMAIL|CLIENT_ID|TOKEN_URL|API_KEY|COOKIE|SESSION)/;

export function isSecretKey(key: string): boolean {
  const upper = key.toUpperCase();
  return KNOWN_SECRET_KEYS.has(upper) || SECRET_PATTERN.test(upper.replace(/^CONNECT_/, ''));
}

/** The `CONNECT_*` key for a flag or `--set` name: `share_region`, `SHARE_REGION` and `CONNECT_SHARE_REGION` all work. */
export function connectKey(name: string): string {
  const upper = name.trim().toUpperCase().replace(/-/g, '_');
  return upper.startsWith('CONNECT_') ? upper : `CONNECT_${upper}`;
}

/** Parse `KEY=VALUE` lines or a JSON object of CONNECT_* keys. `origin` names the input in errors. */
export function parseConnectInput(text: string, origin: string): Record<string, string> {
  const trimmed = text.trim();
  const out: Record<string, string> = {};
  const put = (rawKey: string, value: string, where: string) => {
    const key = rawKey.trim().toUpperCase();
    if (!/^CONNECT_[A-Z0-9_]+$/.test(key)) {
      // Key names are not secret, but a mangled line might be a value: only show names that look like names.
      throw new UsageError(
        `${where} of ${origin}: ${/^[A-Za-z0-9_]{1,64}$/.test(rawKey.trim()) ? `"${rawKey.trim()}" is not a CONNECT_* setting` : 'expected a CONNECT_* key'}`,
      );
    }
    out[key] = value;
  };
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      // No detail on purpose: JSON.parse quotes the input, which may hold secrets.
      throw new UsageError(`${origin} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`${origin} must be a JSON object of CONNECT_* keys`);
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (value === null || value === undefined) continue;
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new UsageError(
          `${origin}: the value of ${/^[A-Za-z0-9_]{1,64}$/.test(key) ? key : 'a key'} must be text`,
        );
      }
      put(key, String(value), 'a key');
    }
    return out;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq <= 0) throw new UsageError(`line ${index + 1} of ${origin} is not KEY=VALUE`);
    let value = body.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value[value.length - 1] === value[0])
      value = value.slice(1, -1);
    put(body.slice(0, eq), value, `line ${index + 1}`);
  });
  return out;
}

export async function readConnectFile(path: string, what: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unreadable';
    throw new UsageError(`cannot read ${what} ${path} (${code})`);
  }
  return parseConnectInput(text, `${what} ${path}`);
}

/** Split values into (non-secret settings, secrets). */
export function splitSecrets(values: Record<string, string>): {
  settings: Record<string, string>;
  secrets: Record<string, string>;
} {
  const settings: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) (isSecretKey(key) ? secrets : settings)[key] = value;
  return { settings, secrets };
}

function fieldsFor(kind: string): SecretField[] {
  return [...vendorFields(kind), ...NIGHTSCOUT_FIELDS];
}

/** Stored credentials expressed as the `CONNECT_*` variables they came from (to merge with newly given ones). */
export function credentialsAsEnv(kind: string, credentials: SourceCredentials): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fieldsFor(kind)) {
    const value = (credentials[f.part] as Record<string, string | undefined> | undefined)?.[f.field];
    if (typeof value === 'string' && value !== '') out[f.key] = value;
  }
  return out;
}

/**
 * Placeholder values for the required secrets a kind is missing, used only to learn a source's id from otherwise
 * valid settings (the placeholders are never stored: the CLI then merges the stored credentials instead).
 */
export function placeholderSecrets(kind: string, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const placeholder = 'placeholder-not-a-secret';
  const fields = vendorFields(kind);
  const given = (field: string) => Boolean(values[fields.find((f) => f.field === field)?.key ?? '']);
  for (const f of fields) {
    if (!f.required || values[f.key]) continue;
    // A secret that another stands in for (`required: { unless }`) needs no placeholder when that one is given.
    if (typeof f.required === 'object' && given(f.required.unless)) continue;
    out[f.key] = placeholder;
  }
  if (!values.CONNECT_API_SECRET && !values.CONNECT_NIGHTSCOUT_TOKEN) out.CONNECT_API_SECRET = placeholder;
  return out;
}

/**
 * Values treated as secret on input but public by nature (an OAuth client id and token URL are printed in the login
 * URL itself), so masking them in output would only garble what a person must see.
 */
const NOT_MASKED = new Set(
  VENDORS.flatMap((v) =>
    Object.entries(v.secrets)
      .filter(([, spec]) => spec.masked === false)
      .flatMap(([field, spec]) => [field, spec.variable]),
  ),
);

/** Every secret string in a set of values or credentials, for output redaction. */
export function secretStrings(...sources: unknown[]): string[] {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') found.push(value);
    else if (value && typeof value === 'object')
      for (const [key, v] of Object.entries(value)) if (!NOT_MASKED.has(key)) walk(v);
  };
  for (const source of sources) walk(source);
  return found;
}
