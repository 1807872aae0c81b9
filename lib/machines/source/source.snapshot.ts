/**
 * Stepping and persisting the source machine: the only way lib/app touches xstate. A stored snapshot carries the
 * machine version it was written with; an older version is migrated here or rejected with a clear error (never
 * silently reinterpreted, because state ids and context shape are the contract of a stored snapshot).
 */
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import { SnapshotVersionError } from '../../domain/errors.js';
import type { SourceEvent } from '../../domain/messages.js';
import { createSourceMachine, type SourceMachine } from './source.machine.js';
import type { MachineSpec } from './source.spec.js';
import { displayState, type SourceStateValue } from './source.state.js';
import { EFFECT_TYPES, SOURCE_MACHINE_VERSION, type SourceContext, type SourceEffect } from './source.types.js';

export interface StepResult {
  /** The stored form of the new snapshot. */
  snapshot: unknown;
  effects: SourceEffect[];
  changed: boolean;
  /** The state before and after, for code to read. */
  fromValue: SourceStateValue;
  toValue: SourceStateValue;
  /** The same, in the display form people, logs and the trace read (`running/session:active/Loop:waiting`). */
  from: string;
  to: string;
}

type SourceSnapshot = SnapshotFrom<SourceMachine>;

/**
 * The chart's state value must be exactly SourceStateValue (the modes listed in source.state.ts): if a mode is added
 * to the chart or the list without the other, this stops compiling.
 */
type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type StateValueMatchesChart = Assert<SameType<SourceSnapshot['value'], SourceStateValue>>;

const machines = new Map<string, SourceMachine>();

/** One machine per driver spec, built once per process (machine creation is not free). */
export function machineFor(spec: MachineSpec): SourceMachine {
  const key = JSON.stringify(spec);
  let machine = machines.get(key);
  if (!machine) {
    machine = createSourceMachine(spec);
    machines.set(key, machine);
  }
  return machine;
}

export function startSource(
  spec: MachineSpec,
  sourceId: string,
  now: number,
): { snapshot: unknown; machineVersion: number } {
  const machine = machineFor(spec);
  const [snapshot] = initialTransition(machine, { sourceId, now });
  return { snapshot: toStored(machine.getPersistedSnapshot(snapshot)), machineVersion: SOURCE_MACHINE_VERSION };
}

/**
 * The stored form of a persisted snapshot: `{ value, context }` only. This machine never finishes, keeps no history
 * states and spawns no children, so xstate's `status: 'active'`, `historyValue: {}` and `children: {}` carry no
 * information; leaving them out keeps the source item under 1 KB (1 WRU per save). Anything unusual is kept as is.
 */
export function toStored(persisted: unknown): unknown {
  const { status, historyValue, children, ...rest } = persisted as Record<string, unknown>;
  const stored: Record<string, unknown> = { ...rest };
  if (status !== 'active') stored.status = status;
  if (!isEmptyObject(historyValue)) stored.historyValue = historyValue;
  if (!isEmptyObject(children)) stored.children = children;
  return stored;
}

/** Inverse of toStored; also accepts the full xstate form written by earlier builds. */
export function fromStored(stored: unknown): unknown {
  return { status: 'active', historyValue: {}, children: {}, ...(stored as Record<string, unknown>) };
}

function isEmptyObject(value: unknown): boolean {
  return value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
}

/** Accept the stored snapshot if its machine version is known; migrate older known versions here. */
export function upgradeSnapshot(stored: unknown, machineVersion: number): unknown {
  if (machineVersion === SOURCE_MACHINE_VERSION) return stored;
  throw new SnapshotVersionError(
    `stored snapshot has machine version ${machineVersion}, this build understands ${SOURCE_MACHINE_VERSION}; ` +
      (machineVersion > SOURCE_MACHINE_VERSION
        ? 'a newer build wrote it: deploy that build again'
        : 'no migration exists for it'),
  );
}

export function restore(spec: MachineSpec, stored: unknown, machineVersion: number): SourceSnapshot {
  const machine = machineFor(spec);
  return machine.resolveState(
    fromStored(upgradeSnapshot(stored, machineVersion)) as Parameters<SourceMachine['resolveState']>[0],
  );
}

/** Apply one event purely. `changed` is false when neither state nor context moved (then nothing is saved). */
export function step(spec: MachineSpec, stored: unknown, machineVersion: number, event: SourceEvent): StepResult {
  const machine = machineFor(spec);
  const before = restore(spec, stored, machineVersion);
  const [after, actions] = transition(machine, before, event);
  const persisted = toStored(machine.getPersistedSnapshot(after));
  const effects = actions
    .filter((a) => EFFECT_TYPES.has(a.type))
    .map((a) => ({ type: a.type, params: a.params }) as SourceEffect);
  const beforeJson = JSON.stringify(toStored(stored));
  const afterJson = JSON.stringify(persisted);
  return {
    snapshot: persisted,
    effects,
    changed: beforeJson !== afterJson,
    fromValue: before.value,
    toValue: after.value,
    from: displayState(before.value),
    to: displayState(after.value),
  };
}

/** Context and state of a stored snapshot, restored through the machine (so an unknown machine version throws). */
export function contextOf(
  spec: MachineSpec,
  stored: unknown,
  machineVersion: number,
): { context: SourceContext; value: SourceStateValue } {
  const snap = restore(spec, stored, machineVersion);
  return { context: snap.context, value: snap.value };
}
