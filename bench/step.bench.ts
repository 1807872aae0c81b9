/**
 * Figure 1: CPU per machine step. A Dexcom Share source is driven through realistic cycles with the pure `step()`
 * (no I/O), recording every (stored snapshot, event) pair; the pairs are then replayed many times and timed with
 * process.cpuUsage() (user + system CPU of this process) and wall time.
 *
 * Event mix per 5-minute cycle, as the engine produces it: one `clock.ticked` that dispatches a frame, one
 * `clock.ticked` while the frame is in flight (a no-op: nothing changes, nothing is saved) and one `frame.persisted`.
 */

import type { SourceEvent } from '../lib/domain/messages.js';
import { startSource, step } from '../lib/machines/source/source.snapshot.js';
import { specFor } from '../lib/sources/vendor.catalog.js';

export interface StepBenchResult {
  iterations: number;
  steps: number;
  cpuMsPerStep: number;
  wallMsPerStep: number;
  byEvent: Record<string, { steps: number; cpuMsPerStep: number }>;
  mix: Record<string, number>;
}

const MIN = 60_000;

function buildTrace(cycles: number) {
  const spec = specFor({ kind: 'dexcomshare', settings: {} });
  let now = Date.UTC(2026, 10, 23, 6, 0, 7);
  let { snapshot } = startSource(spec, 'bench-source', now);
  const machineVersion = 1;
  const trace: Array<{ label: string; stored: unknown; event: SourceEvent }> = [];
  let newest = now - 2 * MIN;
  for (let c = 0; c < cycles; c++) {
    // The tick that finds the source due and dispatches its frame.
    const dispatch: SourceEvent = { type: 'clock.ticked', now, horizon: now + MIN };
    trace.push({ label: 'clock.ticked (dispatch)', stored: snapshot, event: dispatch });
    const r1 = step(spec, snapshot, machineVersion, dispatch);
    const frame = r1.effects.find((e) => e.type === 'requestFrame');
    if (frame?.type !== 'requestFrame') throw new Error(`cycle ${c}: tick did not dispatch (${r1.to})`);
    snapshot = r1.snapshot;
    // A tick while the frame is in flight: no transition (e.g. a duplicate or early tick).
    const idle: SourceEvent = { type: 'clock.ticked', now: now + 1_000, horizon: now + 1_000 + MIN };
    trace.push({ label: 'clock.ticked (no-op)', stored: snapshot, event: idle });
    const r2 = step(spec, snapshot, machineVersion, idle);
    if (r2.changed) throw new Error(`cycle ${c}: in-flight tick changed the snapshot`);
    // The persisted outcome.
    newest += 5 * MIN;
    const persisted: SourceEvent = {
      type: 'frame.persisted',
      now: now + 2_000,
      loop: frame.params.loop,
      frameId: frame.params.frameId,
      cursor: { entries: newest },
      written: { entries: 1, treatments: 0, devicestatus: 0, profiles: 0 },
      newestReadingAt: newest,
      session: { establishedAt: now, expiresAt: now + 24 * 60 * MIN },
    };
    trace.push({ label: 'frame.persisted', stored: snapshot, event: persisted });
    const r3 = step(spec, snapshot, machineVersion, persisted);
    snapshot = r3.snapshot;
    now += 5 * MIN;
  }
  return { spec, trace };
}

export function runStepBench(opts: { iterations: number }): StepBenchResult {
  const { spec, trace } = buildTrace(12);
  // Warm-up (JIT, machine cache).
  for (let i = 0; i < 200; i++) for (const t of trace) step(spec, t.stored, 1, t.event);

  const byEvent: Record<string, { steps: number; cpuUs: number }> = {};
  const mix: Record<string, number> = {};
  for (const t of trace) mix[t.label] = (mix[t.label] ?? 0) + 1;

  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < opts.iterations; i++) for (const t of trace) step(spec, t.stored, 1, t.event);
  const wallNs = Number(process.hrtime.bigint() - wall0);
  const cpu = process.cpuUsage(cpu0);
  const steps = opts.iterations * trace.length;

  // Per event kind: a separate, shorter pass per label.
  const perKindIterations = Math.max(50, Math.floor(opts.iterations / 3));
  for (const label of Object.keys(mix)) {
    const subset = trace.filter((t) => t.label === label);
    const c0 = process.cpuUsage();
    for (let i = 0; i < perKindIterations; i++) for (const t of subset) step(spec, t.stored, 1, t.event);
    const c = process.cpuUsage(c0);
    byEvent[label] = { steps: perKindIterations * subset.length, cpuUs: c.user + c.system };
  }

  return {
    iterations: opts.iterations,
    steps,
    cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps,
    wallMsPerStep: wallNs / 1e6 / steps,
    byEvent: Object.fromEntries(
      Object.entries(byEvent).map(([k, v]) => [k, { steps: v.steps, cpuMsPerStep: v.cpuUs / 1000 / v.steps }]),
    ),
    mix,
  };
}
