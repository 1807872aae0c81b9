/**
 * The layer rules bite: dependency-cruiser, with the repository's own `.dependency-cruiser.cjs`, cruises a miniature
 * of the repository (test/fixtures/architecture) in which some files import the wrong way on purpose. Each planted
 * import must be reported by the rule that forbids it, and the tree without them must pass. So a rule that stops
 * matching (a path typo, a rule deleted or loosened) fails here, not silently in CI.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = 'test/fixtures/architecture';
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');

/** Every wrong-way import in the fixture (paths relative to it) and the rule that must report it. */
const PLANTED = [
  { from: 'lib/domain/leaky.planted.ts', to: 'lib/adapters/aws/reading.store.ts', rule: 'domain-is-pure' },
  {
    from: 'lib/machines/source/leaky.planted.ts',
    to: 'lib/adapters/aws/reading.store.ts',
    rule: 'machines-are-pure',
  },
  { from: 'lib/app/leaky.planted.ts', to: 'lib/sources/acme/acme.source.ts', rule: 'app-uses-ports' },
  { from: 'lib/runtime/leaky.planted.ts', to: 'local/runner.ts', rule: 'product-imports-tooling' },
  {
    from: 'functions/persist/handler.planted.ts',
    to: 'lib/adapters/aws/reading.store.ts',
    rule: 'functions-only-wire',
  },
  {
    from: 'lib/sources/widget/widget.vendor.ts',
    to: 'lib/sources/widget/widget.source.ts',
    rule: 'vendor-declarations-are-light',
  },
] as const;

/** The folders the planted files live in alone, or the planted files themselves: left out of the clean cruise. */
const PLANTED_ONLY = ['\\.planted\\.ts$', '^lib/sources/widget/'];

async function cruiseFixture(exclude: string[] = []): Promise<IViolation[]> {
  const options = await extractDepcruiseOptions(CONFIG);
  const { output } = await cruise(
    ['lib', 'functions', 'local'],
    {
      ...options,
      // Paths in the rules (`^lib/…`) are relative to where the cruise runs: the fixture is laid out like the repo.
      baseDir: path.join(ROOT, FIXTURE),
      exclude: { path: [...exclude, '^node_modules'] },
    },
    { extensions: ['.ts', '.js'] },
  );
  return (output as ICruiseResult).summary.violations;
}

describe('the layer rules (.dependency-cruiser.cjs) over a miniature of the repository', () => {
  let violations: IViolation[];

  beforeAll(async () => {
    violations = await cruiseFixture();
  }, 30_000);

  it.each(PLANTED)('$from → $to is reported by $rule', ({ from, to, rule }) => {
    const found = violations.filter((v) => v.from === from && v.to === to).map((v) => v.rule.name);

    expect(found).toContain(rule);
  });

  it('reports nothing but the planted imports', () => {
    const planted = new Set(PLANTED.map((p) => `${p.from} → ${p.to}`));

    expect(violations.filter((v) => !planted.has(`${v.from} → ${v.to}`))).toEqual([]);
  });

  it('passes the same tree without the planted imports', async () => {
    expect(await cruiseFixture(PLANTED_ONLY)).toEqual([]);
  }, 30_000);

  it('the real lint leaves the fixture alone: it cruises only the product and tooling, and the config excludes it', async () => {
    const lint = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { lint: string } })
      .scripts.lint;
    const targets = /depcruise ((?:[\w-]+ )+)--config/.exec(lint)?.[1].trim().split(' ');
    const options = await extractDepcruiseOptions(CONFIG);
    const excluded = [(options.exclude as { path?: string | string[] } | undefined)?.path ?? []].flat();

    expect(targets).toEqual(['lib', 'functions', 'infra', 'local', 'bench']);
    expect(excluded.some((pattern) => new RegExp(pattern).test(`${FIXTURE}/lib/domain/leaky.planted.ts`))).toBe(true);
  });
});
