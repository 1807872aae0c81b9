/**
 * The CLI's input/output surface, injectable so tests drive `runCli` in-process. Every line written goes through a
 * redactor that knows every secret value this run has read (from stdin, a file or the credential store), as a last
 * line of defence: no code path is meant to print one, and none does, but an SDK or vendor error message could
 * quote an input.
 */
import type { Clock } from '../ports/observability.port.js';

export interface CliIo {
  /** Secret input (`--secrets-stdin`): the text, or a function reading it (read only when asked for). */
  stdin?: string | (() => Promise<string>);
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  /** Interactive question (the CareLink `login`); defaults to a readline prompt in the real binary. */
  prompt?: (question: string) => Promise<string>;
  clock?: Clock;
}

export const REDACTED = '[redacted]';

export class Output {
  private readonly secrets = new Set<string>();

  constructor(private readonly io: CliIo) {}

  /** Remember values to mask; very short values are skipped (masking "1" would garble every number). */
  addSecrets(values: Iterable<string>): void {
    for (const value of values) if (value.length >= 4) this.secrets.add(value);
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
    return out;
  }

  line(text = ''): void {
    this.io.stdout(`${this.redact(text)}\n`);
  }

  error(text: string): void {
    this.io.stderr(`${this.redact(text)}\n`);
  }

  async readStdin(): Promise<string> {
    const input = this.io.stdin;
    if (input === undefined) return '';
    return typeof input === 'string' ? input : input();
  }
}

/** `2025-01-02T03:04:05Z (in 3 min)`, or `-`. */
export function when(at: number | undefined, now: number): string {
  if (at === undefined || !Number.isFinite(at)) return '-';
  return `${new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z')} (${relative(at, now)})`;
}

export function relative(at: number, now: number): string {
  const delta = at - now;
  const abs = Math.abs(delta);
  if (abs < 1_000) return 'now';
  const text =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 172_800_000
          ? `${(abs / 3_600_000).toFixed(1)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** Age of an instant: `4 min`, or `-`. */
export function age(at: number | undefined, now: number): string {
  if (at === undefined) return '-';
  return relative(at, now).replace(/ ago$/, '');
}

export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col])))
      .join('  ')
      .trimEnd(),
  );
}
