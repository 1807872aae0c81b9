/**
 * The tick and persist need only vendor declarations: adding sources, ticking them and persisting their frames, for
 * every registered vendor, loads no driver implementation (`*.source.ts`) and no HTTP client. Run in a child process with a resolve hook that fails any
 * such import, so a declaration that starts importing its implementation (or axios) fails here, whatever the vendor.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SOURCE_KINDS, scheduleFor, vendorFor } from '../../../lib/sources/vendor.catalog.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

async function probe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/helpers/forbid-driver-code.register.mjs',
        'test/helpers/tick-path.probe.ts',
        ...args,
      ],
      { cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the tick and persist paths', () => {
  it('add, tick and persist a source of every vendor without loading any driver implementation or HTTP client', async () => {
    const { code, stdout, stderr } = await probe();
    expect(stderr).not.toContain('driver code loaded');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      kinds: string[];
      due: number;
      errors: number;
      framesFor: string[];
      persisted: Array<{ kind: string; settle: string; device?: string; seedLookbackMs?: number }>;
    };
    expect(report.kinds).toEqual([...SOURCE_KINDS]);
    expect(report).toMatchObject({ due: SOURCE_KINDS.length, errors: 0 });
    expect(report.framesFor).toEqual([...SOURCE_KINDS].sort());
    // Persist wrote each frame with its vendor's declared device and first loop's look-back.
    expect(report.persisted).toHaveLength(SOURCE_KINDS.length);
    for (const p of report.persisted) {
      expect(p).toEqual({
        kind: p.kind,
        settle: 'done',
        device: vendorFor(p.kind).device,
        seedLookbackMs: scheduleFor({ kind: p.kind, settings: {} })[0].maxLookbackMs,
      });
    }
  }, 60_000);

  it('the guard is real: asking for a driver loads its implementation, and the hook refuses it', async () => {
    const { code, stderr } = await probe('--load-driver');
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/driver code loaded: .*\.source\.ts/);
  }, 60_000);
});
