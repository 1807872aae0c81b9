import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory holding stand-in `functions/<name>/handler.ts` files for infra tests. */
export const INFRA_FIXTURE_ENTRY_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'infra',
);

/** Context for unit tests: no esbuild run, stand-in handlers. */
export const testContext = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  'aws:cdk:bundling-stacks': [],
  entryDir: INFRA_FIXTURE_ENTRY_DIR,
  ...extra,
});
