/**
 * Deployment defaults shared by the CDK construct (infra) and the benchmark, which prices what the construct deploys.
 */

/** Community default for `batchingWindowSeconds`, chosen from the 1,000-source bench (docs/benchmark.md). */
export const COMMUNITY_BATCHING_WINDOW_SECONDS = 1;
