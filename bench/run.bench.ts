/**
 * `npm run bench` (full) or `npm run bench -- --quick` (≤ 60 s on a 2-core machine). Measures, prints a table
 * (figure | value | aim | method) and writes bench/results.json with the method beside every figure, the machine
 * facts and the date. Every number is measured in this run or computed from measured numbers; assumptions are
 * named as such. Options: `npm run bench -- --help` (bench/bench.args.ts); `--only sources|bundles` runs one section
 * and merges its figures into the existing results file.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../lib/cli/argv.js';
import { COMMUNITY_BATCHING_WINDOW_SECONDS } from '../lib/config/deployment.config.js';
import { type BenchArgs, benchHelp, parseBenchArgs, type SoloSection } from './bench.args.js';
import type { BenchFigure } from './sources.bench.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let cli: BenchArgs;
try {
  cli = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`error: ${err.message}\n(run npm run bench -- --help for usage)\n`);
  process.exit(2);
}
if (cli.help) {
  process.stdout.write(benchHelp());
  process.exit(0);
}
const quick = cli.quick;
const plan = {
  mode: quick ? 'quick' : 'full',
  stepIterations: quick ? 150 : 1_500,
  tickSources: cli.sizes.tickSources ?? (quick ? 1_000 : 10_000),
  tickConcurrency: 16,
  simSources: cli.sizes.simSources ?? (quick ? 10 : 100),
  simHours: cli.sizes.simHours ?? (quick ? 6 : 24),
  sourcesPerKind: cli.sizes.sourcesPerKind ?? (quick ? 2 : 10),
  sourcesHours: cli.sizes.sourcesHours ?? (quick ? 3 : 24),
  communitySources: cli.sizes.communitySources ?? (quick ? 100 : 1_000),
  communityHours: cli.sizes.communityHours ?? (quick ? 1 : 2),
  communityWindowSeconds: cli.sizes.communityWindowSeconds ?? COMMUNITY_BATCHING_WINDOW_SECONDS,
};
const only: SoloSection | undefined = cli.only;
const outFile = cli.out ?? path.join(HERE, quick ? 'results.quick.json' : 'results.json');

const figures: BenchFigure[] = [];
const add = (f: BenchFigure) => figures.push(f);
const fmt = (n: number | undefined, digits = 2) =>
  n === undefined || Number.isNaN(n)
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const usd = (n: number) => `$${n < 0.01 ? n.toFixed(5) : n.toFixed(4)}`;
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const t0 = performance.now();
  const cpus = os.cpus();
  const machine = {
    node: process.version,
    platform: `${process.platform} ${os.release()}`,
    arch: process.arch,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryGb: +(os.totalmem() / 1024 ** 3).toFixed(1),
    // Wall-clock figures (load times above all) depend on what else the machine runs.
    loadAverageAtStart: os.loadavg().map((l) => +l.toFixed(2)),
  };
  log(`Nightscout Connect benchmark — ${plan.mode} mode, ${new Date().toISOString()}`);
  log(
    `machine: node ${machine.node}, ${machine.cpuModel}, ${machine.cores} cores, ${machine.platform} ${machine.arch}, ` +
      `load average ${machine.loadAverageAtStart.join(' / ')} (1 / 5 / 15 min)`,
  );
  if (only) return runSectionOnly(only, t0, machine);
  log(
    `plan: step ${plan.stepIterations} iterations × 36 events; tick over ${plan.tickSources.toLocaleString()} due sources` +
      `${quick ? ' (quick: 1,000, not 10,000)' : ''}; simulated run ${plan.simSources} Dexcom sources × ${plan.simHours} h` +
      `${quick ? ' (quick: 10 × 6 h, not 100 × 24 h)' : ''}; per source kind ${plan.sourcesPerKind} sources × ${plan.sourcesHours} h; ` +
      `community run ${plan.communitySources} sources × ${plan.communityHours} h, ${plan.communityWindowSeconds} s batching window`,
  );

  // 1. Machine step CPU.
  const { runStepBench } = await import('./step.bench.js');
  log('\n[1] machine step CPU …');
  const stepR = runStepBench({ iterations: plan.stepIterations });
  add({
    id: 'step.cpuMsPerStep',
    figure: 'Machine step CPU per source',
    value: +stepR.cpuMsPerStep.toFixed(4),
    unit: 'ms/step',
    aim: '≤ 0.25 ms',
    met: stepR.cpuMsPerStep <= 0.25,
    method:
      `process.cpuUsage() (user+system) over ${stepR.steps.toLocaleString()} pure step() calls of a Dexcom Share source, ` +
      `replaying 12 recorded cycles of {clock.ticked dispatching a frame, clock.ticked no-op while in flight, frame.persisted} ` +
      `${stepR.iterations}× after 200 warm-up passes; per event: ${Object.entries(stepR.byEvent)
        .map(([k, v]) => `${k} ${v.cpuMsPerStep.toFixed(4)} ms`)
        .join(', ')}; wall ${stepR.wallMsPerStep.toFixed(4)} ms/step`,
  });

  // 2. One tick over N due sources.
  const { runTickBench } = await import('./tick.bench.js');
  log(`[2] one tick over ${plan.tickSources.toLocaleString()} due sources on dynalite …`);
  const tickR = await runTickBench({ sources: plan.tickSources, concurrency: plan.tickConcurrency });
  add({
    id: 'tick.wallMs',
    figure: `One tick over ${plan.tickSources.toLocaleString()} due sources${quick ? ' (quick size)' : ''}`,
    value: Math.round(tickR.tickWallMs),
    unit: 'ms wall',
    aim: '— (no aim set; must fit the tick deadline)',
    met: null,
    method:
      `runTick(concurrency ${tickR.concurrency}) against the real DynamoDbSourceStore on in-process dynalite, memory frame queue; ` +
      `advanced ${tickR.report.advanced}/${tickR.report.due} due, ${tickR.report.errors} errors, frames ${tickR.framesQueued} in ${tickR.sqsSendMessageBatch} SendMessageBatch; ` +
      `DynamoDB requests ${Object.entries(tickR.dynamoRequests)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; process CPU ${Math.round(tickR.tickCpuMs)} ms (includes dynalite, same process); ` +
      `set-up (${plan.tickSources} startSource + create, not the figure) took ${Math.round(tickR.createMs)} ms`,
  });

  // 3, 5, 6, 7. Simulated run.
  const { runSimulatedBench } = await import('./simulated.bench.js');
  log(`[3,5,6,7] simulated run: ${plan.simSources} Dexcom sources × ${plan.simHours} h …`);
  const sim = await runSimulatedBench({ sources: plan.simSources, hours: plan.simHours, onProgress: log });
  const simWhat =
    `${sim.sources} Dexcom Share sources × ${sim.hours} simulated h (createSimWorld: real handlers, DynamoDB adapter on dynalite, ` +
    `memory SQS counted as a Lambda ESM calls it, receive batch ≤ 10; each source its own Share and Nightscout simulator), ${sim.wallSeconds.toFixed(0)} s wall`;
  add({
    id: 'requests.perSourceCycle',
    figure: 'AWS requests per source-cycle',
    value: +sim.perCycleTotal.toFixed(3),
    unit: 'requests/cycle',
    aim: '≤ 6',
    met: sim.perCycleTotal <= 6,
    method:
      `${simWhat}; counts ÷ ${sim.cycles} completed cycles (Outcome_persisted): ` +
      `${Object.entries(sim.perCycle)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(', ')}; tick due-index Queries excluded (per-tick fixed cost below); ` +
      `Secrets Manager ${sim.secretsManagerRequests} measured (the sim's memory credential store makes no AWS calls; modelled in the cost as cached reads)`,
  });
  add({
    id: 'requests.perTickFixed',
    figure: 'Per-tick fixed DynamoDB Queries (due-index shards)',
    value: +(sim.perTickFixed['DynamoDB.Query'] ?? 0).toFixed(2),
    unit: 'Query/tick',
    aim: '— (fixed cost, reported separately)',
    met: null,
    method: `DynamoDB.Query ${sim.awsRequests['DynamoDB.Query'] ?? 0} ÷ ${sim.ticks} ticks in the simulated run`,
  });

  const cap = sim.capacity.perCycle;
  add({
    id: 'dynamodb.wruPerSourceCycle',
    figure: 'DynamoDB write units per source-cycle (table + due index)',
    value: +(cap.tableWru + cap.indexWru).toFixed(3),
    unit: 'WRU/cycle',
    aim: '— (drives the cost figure)',
    met: null,
    method:
      `${simWhat}; table ${cap.tableWru.toFixed(3)} WRU from ConsumedCapacity (TOTAL) that dynalite reported on every write; ` +
      `index ${cap.indexWru.toFixed(3)} WRU derived from the due-index keys each STATE write left (KEYS_ONLY: 0 unchanged, 1 added/removed, 2 moved; ` +
      `${cap.indexMoves.toFixed(3)} moves/cycle); ${cap.stateSaves.toFixed(3)} state saves and ${cap.traceWrites.toFixed(3)} trace writes per cycle; ` +
      `source item ${sim.itemBytes.mean.toFixed(0)} B mean, ${sim.itemBytes.max} B max (DynamoDB size rules); reads ${cap.rru.toFixed(3)} RRU/cycle besides the tick's shard queries`,
  });

  // 4. Cost. One source and 100 sources are priced from the simulated run above (no batching window, as `single`
  // mode deploys); 1,000 sources from a community run at that size with the community batching window, because how
  // many messages a receive carries depends on how many sources share the queues.
  const cost = await import('./cost.model.js');
  const profileOf = (r: typeof sim) => ({
    tableWru: r.capacity.perCycle.tableWru,
    indexWru: r.capacity.perCycle.indexWru,
    rru: r.capacity.perCycle.rru,
    sqsRequests: Object.entries(r.perCycle)
      .filter(([k]) => k.startsWith('SQS.'))
      .reduce((s, [, v]) => s + v, 0),
    lambdaInvocations: r.invocationsPerCycle,
    logBytes: cost.logBytesPerCycle(r.log.infoBytesPerCycle, r.log.infoLinesPerCycle, r.invocationsPerCycle),
  });
  const profile = profileOf(sim);
  const windowMs = plan.communityWindowSeconds * 1000;
  log(
    `[4] community run: ${plan.communitySources} Dexcom sources × ${plan.communityHours} h, batching window ${plan.communityWindowSeconds} s …`,
  );
  const community = await runSimulatedBench({
    sources: plan.communitySources,
    hours: plan.communityHours,
    batchingWindowMs: windowMs,
    onProgress: log,
  });
  const communityProfile = profileOf(community);
  const communityWhat =
    `${community.sources} Dexcom Share sources × ${community.hours} simulated h with a ${plan.communityWindowSeconds} s batching window ` +
    `(each source its own sensor phase), ${community.wallSeconds.toFixed(0)} s wall; ${(2 / community.invocationsPerCycle).toFixed(2)} messages per receive (2 messages per cycle ÷ receives per cycle)`;
  const rows = [cost.costFor(1, profile), cost.costFor(100, profile), cost.costFor(1_000, communityProfile)];
  for (const row of rows) {
    const isAim = row.sources === 1_000;
    add({
      id: `cost.perSourceMonth.${row.sources}`,
      figure: `Cost per source-month, ${row.sources.toLocaleString()} source${row.sources > 1 ? 's' : ''} (community, ${row.credentialShards} secret${row.credentialShards > 1 ? 's' : ''})`,
      value: +row.perSourceMonth.toFixed(5),
      unit: 'USD/source-month',
      aim: isAim ? '≤ $0.05' : '—',
      met: isAim ? row.perSourceMonth <= 0.05 : null,
      method:
        `variable ${usd(row.variablePerSourceMonth)}/source-month (${Object.entries(row.variable)
          .map(([k, v]) => `${k} ${usd(v)}`)
          .join(', ')}) × ${row.sources} + ` +
        `fixed ${usd(row.fixedPerDeploymentMonth)}/month (${Object.entries(row.fixed)
          .map(([k, v]) => `${k} ${usd(v)}`)
          .join(', ')}), ÷ ${row.sources}; ` +
        `list prices from serverless.md §6, 8,640 cycles/month, per-cycle capacity units and request counts measured in ` +
        `${isAim ? `the community run (${communityWhat})` : `the simulated run (${sim.sources} sources, no batching window)`}`,
    });
  }
  const cfr = community.freshness;
  add({
    id: 'community.freshness.p50Ms',
    figure: `Freshness lag p50 / p95, community run (${community.sources.toLocaleString()} sources, ${plan.communityWindowSeconds} s window)`,
    value: `${cfr.p50Ms ?? 'n/a'} / ${cfr.p95Ms ?? 'n/a'}`,
    unit: 'ms (simulated)',
    aim: '≤ 15,000 / ≤ 45,000 ms',
    met: cfr.p50Ms !== undefined && cfr.p95Ms !== undefined && cfr.p50Ms <= 15_000 && cfr.p95Ms <= 45_000,
    method: `as figure 5, in ${communityWhat}; the window holds each message up to ${plan.communityWindowSeconds} s per queue hop (two hops)`,
  });
  add({
    id: 'community.requests.perSourceCycle',
    figure: 'AWS requests per source-cycle, community run',
    value: +community.perCycleTotal.toFixed(3),
    unit: 'requests/cycle',
    aim: '≤ 6',
    met: community.perCycleTotal <= 6,
    method: `${communityWhat}; ${Object.entries(community.perCycle)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join(', ')}`,
  });
  add({
    id: 'community.readings.endToEnd',
    figure: 'Readings vendor / nightscout / duplicates / missing, community run',
    value: `${community.readings.vendor} / ${community.readings.nightscout} / ${community.readings.duplicates} / ${community.readings.missing}`,
    unit: 'readings',
    aim: 'nightscout = vendor, 0 duplicates, 0 missing',
    met:
      community.readings.nightscout === community.readings.vendor &&
      community.readings.duplicates === 0 &&
      community.readings.missing === 0,
    method: `countReadings per source summed, ${community.readings.window}; DLQ depth at end ${community.dlqDepth}`,
  });

  // 5. Freshness.
  const fr = sim.freshness;
  add({
    id: 'freshness.p50Ms',
    figure: 'Freshness lag reading → Nightscout, p50',
    value: fr.p50Ms ?? 'n/a',
    unit: 'ms (simulated)',
    aim: '≤ 15,000 ms',
    met: fr.p50Ms !== undefined && fr.p50Ms <= 15_000,
    method:
      `RecordingMetrics FreshnessLagMs (persist's now − reading instant) for the ${fr.samples} readings dated at or after the sources' start ` +
      `(${fr.excludedBackfillSamples} first-run backfill samples excluded), nearest-rank percentile; ${simWhat}`,
  });
  add({
    id: 'freshness.p95Ms',
    figure: 'Freshness lag, p95',
    value: fr.p95Ms ?? 'n/a',
    unit: 'ms (simulated)',
    aim: '≤ 45,000 ms',
    met: fr.p95Ms !== undefined && fr.p95Ms <= 45_000,
    method: 'as p50',
  });
  add({
    id: 'freshness.maxMs',
    figure: 'Freshness lag, max',
    value: fr.maxMs ?? 'n/a',
    unit: 'ms (simulated)',
    aim: '—',
    met: null,
    method: 'as p50',
  });
  add({
    id: 'readings.endToEnd',
    figure: 'Readings vendor / nightscout / duplicates / missing',
    value: `${sim.readings.vendor} / ${sim.readings.nightscout} / ${sim.readings.duplicates} / ${sim.readings.missing}`,
    unit: 'readings',
    aim: 'nightscout = vendor, 0 duplicates, 0 missing',
    met: sim.readings.nightscout === sim.readings.vendor && sim.readings.duplicates === 0 && sim.readings.missing === 0,
    method: `countReadings per source summed, ${sim.readings.window} (24 h backfill + live, last 10 min left out as possibly in flight); DLQ depth at end ${sim.dlqDepth}`,
  });

  // 6, 7. Vendor economy.
  add({
    id: 'vendor.loginsPerSourceDay',
    figure: 'Logins per source-day',
    value: +sim.loginsPerSourceDay.toFixed(3),
    unit: 'logins',
    aim: '≤ 1',
    met: sim.loginsPerSourceDay <= 1,
    method:
      `Dexcom simulator stats.login ${sim.vendor.logins} ÷ ${sim.sources} sources ÷ ${sim.hours / 24} days (each source's first login included` +
      `${sim.hours < 24 ? '; a run shorter than a day inflates this: the 24 h session is paid in full within it' : ''})`,
  });
  add({
    id: 'vendor.readsPerNewReading',
    figure: 'Vendor data requests per new reading',
    value: +sim.readsPerNewReading.toFixed(3),
    unit: 'reads/reading',
    aim: '≤ 1.05',
    met: sim.readsPerNewReading <= 1.05,
    method: `Dexcom simulator stats.read ${sim.vendor.reads} ÷ ${sim.newReadingsWritten} readings written that are dated at or after the start (the first backfill read is in the numerator)`,
  });

  // 8. Bundles.
  const bundles = await bundlesSection();

  // 9. Freshness and request economy per source kind.
  const sources = await sourcesSection();

  const totalSeconds = (performance.now() - t0) / 1000;
  printTable();
  log(
    `\nreadings: vendor=${sim.readings.vendor} nightscout=${sim.readings.nightscout} duplicates=${sim.readings.duplicates} missing=${sim.readings.missing}`,
  );
  log(
    `cost per source-month: ${rows.map((r) => `${r.sources} → ${usd(r.perSourceMonth)}`).join(', ')}; 1,000 sources ≤ $0.05: ${rows[2].perSourceMonth <= 0.05 ? 'YES' : 'NO'}` +
      ` (community run: ${plan.communitySources} sources, ${plan.communityWindowSeconds} s batching window)`,
  );
  log(`total run time ${totalSeconds.toFixed(1)} s; results written to ${path.relative(process.cwd(), outFile)}`);

  const results = {
    date: new Date().toISOString(),
    mode: plan.mode,
    plan,
    machine,
    totalSeconds: +totalSeconds.toFixed(1),
    figures,
    details: {
      step: stepR,
      tick: tickR,
      simulated: sim,
      community: { batchingWindowSeconds: plan.communityWindowSeconds, ...community },
      cost: {
        prices: cost.PRICES,
        cyclesPerMonth: cost.CYCLES_PER_MONTH,
        assumptions: cost.DEFAULT_ASSUMPTIONS,
        logAssumptions: {
          powertoolsEnvelopeBytesPerLine: cost.POWERTOOLS_ENVELOPE_BYTES_PER_LINE,
          platformLogBytesPerInvocation: cost.PLATFORM_LOG_BYTES_PER_INVOCATION,
        },
        profile,
        communityProfile,
        rows,
      },
      bundles,
      sources,
    },
  };
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
}

/** Figure 8: size and module load of each function's bundle, built as the construct deploys it. */
async function bundlesSection() {
  const { runBundleBench, INIT_RUNS } = await import('./bundle.bench.js');
  const { FUNCTION_BUNDLING, LAMBDA_NODE_OPTIONS } = await import('../lib/config/bundling.config.js');
  log(`[8] bundling functions with esbuild, ${INIT_RUNS} cold imports each …`);
  const bundles = await runBundleBench();
  for (const b of bundles) {
    const maxBytes = b.function === 'tick' ? 256_000 : 409_600;
    const options = FUNCTION_BUNDLING[b.function];
    add({
      id: `bundle.${b.function}.bytes`,
      figure: `Minified bundle, ${b.function}`,
      value: b.bytes,
      unit: 'bytes',
      aim: `≤ ${maxBytes.toLocaleString('en-US')} (${maxBytes / 1024} KiB)`,
      met: b.bytes <= maxBytes,
      method:
        `lib/config/bundling.build.ts (the construct's build: esbuild bundle, minify, ${options.format}, platform ${options.platform}, ` +
        `target ${options.target}, mainFields ${options.mainFields.join('/')}, externals [${options.external.join(', ')}], aliases ${b.aliases.join(', ')}, ` +
        `file stand-ins ${b.fileStandIns.join(', ')}, trimmed JSON ${b.trimmedJson.join(', ')}, ` +
        `createRequire banner, linked source map) of ${b.entry}, written to a temp dir; gzip ${b.gzipBytes.toLocaleString('en-US')} B, ` +
        `source map ${b.sourceMapBytes.toLocaleString('en-US')} B; largest inputs: ${b.topPackages.map((p) => `${p.name} ${(p.bytes / 1024).toFixed(1)} KiB`).join(', ')}`,
    });
    add({
      id: `bundle.${b.function}.initMs`,
      figure: `Module load, ${b.function}`,
      value: b.initMs,
      unit: 'ms (median)',
      aim: '≤ 150 ms',
      met: b.initMs <= 150,
      method:
        `cold import() of that bundle in a fresh node ${process.version} process (NODE_OPTIONS=${LAMBDA_NODE_OPTIONS}, dummy Lambda environment), ` +
        `timed inside the process from before the import until it resolved; median of ${b.initSamplesMs.length} processes run one after another ` +
        `(samples ${b.initSamplesMs.join(', ')} ms); CPU time of the import (user + system) median ${b.initCpuMs} ms, which a busy machine inflates less`,
    });
  }
  return bundles;
}

async function sourcesSection() {
  const { runSourcesBench } = await import('./sources.bench.js');
  log(
    `[9] per source kind: ${plan.sourcesPerKind} sources × ${plan.sourcesHours} h each${quick ? ' (quick: 2 × 3 h, not 10 × 24 h)' : ''} …`,
  );
  const { figures: sourceFigures, ...details } = await runSourcesBench({
    sources: plan.sourcesPerKind,
    hours: plan.sourcesHours,
    onProgress: log,
  });
  for (const f of sourceFigures) add(f);
  return details;
}

/** `--only <section>`: measure that section and merge it into the existing results file. */
async function runSectionOnly(section: SoloSection, t0: number, machine: Record<string, unknown>) {
  const { mergeSection } = await import('./results.merge.js');
  const details = section === 'sources' ? await sourcesSection() : await bundlesSection();
  const totalSeconds = (performance.now() - t0) / 1000;
  printTable();
  const existing = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : undefined;
  const run = {
    date: new Date().toISOString(),
    mode: plan.mode,
    ...(section === 'sources'
      ? { plan: { sourcesPerKind: plan.sourcesPerKind, sourcesHours: plan.sourcesHours } }
      : {}),
    machine,
    totalSeconds: +totalSeconds.toFixed(1),
  };
  // Figure ids are `sources.…` and `bundle.…`; the details keep the keys a full run writes (`sources`, `bundles`).
  const merged =
    section === 'sources'
      ? mergeSection(existing, { name: 'sources', figures, details, run })
      : mergeSection(existing, { name: 'bundle', key: 'bundles', figures, details, run });
  writeFileSync(outFile, `${JSON.stringify(merged, null, 2)}\n`);
  log(
    `\ntotal run time ${totalSeconds.toFixed(1)} s; ${section} section merged into ${path.relative(process.cwd(), outFile)}` +
      `${existing ? ' (other sections kept as they were)' : ' (new file: no other sections)'}`,
  );
}

function printTable() {
  const rows = figures.map((f) => [
    f.figure,
    `${typeof f.value === 'number' ? fmt(f.value, 4) : f.value} ${f.unit}`,
    `${f.aim}${f.met === null ? '' : f.met ? '  ✓ met' : '  ✗ MISSED'}`,
    f.method,
  ]);
  log('\n| figure | value | aim | method |');
  log('|---|---|---|---|');
  for (const r of rows) log(`| ${r.map((c) => c.replace(/\|/g, '/')).join(' | ')} |`);
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
