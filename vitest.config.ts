import { defineConfig } from 'vitest/config';

/**
 * Four tiers, one Vitest run (`npm test` runs them all; `npm run test:<tier>` runs one):
 * - unit: pure code and the use cases over memory adapters; no network, no emulator, no simulated day.
 * - integration: real adapters against in-process emulators and HTTP simulators on loopback.
 * - e2e: the whole pipeline over simulated days (local/sim-runner.ts).
 * - infra: CDK template assertions.
 */
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_DEV: 'false' },
    projects: [
      // Unit tests start nothing and wait for nothing; a short timeout catches one that does.
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000, hookTimeout: 10_000 },
      },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      // A simulated day takes 15–60 s on an idle 2-core machine and several times that on a loaded CI runner; the
      // tests bound the work they do (ticks, requests, frames), so a generous timeout only guards against a hang.
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 120_000 },
      },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'] } },
    ],
  },
});
