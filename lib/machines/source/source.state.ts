/**
 * The source machine's state value, typed: one mode per region (`operation`, `session`, one per loop). Code outside
 * the machine reads modes from this structure, never from the display string (`running/session:active/Loop:waiting`),
 * which exists for people, logs and the transition trace.
 */

export const OPERATION_MODES = ['running', 'paused'] as const;
export const SESSION_MODES = ['idle', 'authenticating', 'active', 'rejected', 'lockedOut'] as const;
export const LOOP_MODES = ['waiting', 'fetching', 'persisting', 'backingOff'] as const;

export type OperationMode = (typeof OPERATION_MODES)[number];
export type SessionMode = (typeof SESSION_MODES)[number];
export type LoopMode = (typeof LOOP_MODES)[number];

export interface SourceStateValue {
  operation: OperationMode;
  session: SessionMode;
  /** Per loop, in driver order. */
  loops: Record<string, LoopMode>;
}

/**
 * A state value as xstate or a stored snapshot holds it, checked against this machine's regions and modes. Throws on
 * anything else: a stored snapshot is a contract (see SOURCE_MACHINE_VERSION), so a stranger is a bug, not a mode.
 */
export function sourceStateOf(value: unknown): SourceStateValue {
  if (typeof value === 'object' && value !== null && 'operation' in value && 'session' in value && 'loops' in value) {
    const { operation, session, loops } = value;
    if (isOneOf(OPERATION_MODES, operation) && isOneOf(SESSION_MODES, session) && isLoopModes(loops)) {
      return { operation, session, loops: { ...loops } };
    }
  }
  throw new Error(`not a source machine state value: ${JSON.stringify(value)}`);
}

export const isPaused = (state: SourceStateValue): boolean => state.operation === 'paused';
/** Parked until its credentials change: no login may follow a rejected password. */
export const isAuthRejected = (state: SourceStateValue): boolean => state.session === 'rejected';
export const isLockedOut = (state: SourceStateValue): boolean => state.session === 'lockedOut';
/** `[loop, mode]` pairs in driver order. */
export const loopModesOf = (state: SourceStateValue): Array<[string, LoopMode]> => Object.entries(state.loops);

/** Whether two values are in the same mode in every region (loops compared by name). */
export function sameState(a: SourceStateValue, b: SourceStateValue): boolean {
  const loops = loopModesOf(a);
  return (
    a.operation === b.operation &&
    a.session === b.session &&
    loops.length === Object.keys(b.loops).length &&
    loops.every(([loop, mode]) => b.loops[loop] === mode)
  );
}

/** The display form people and tests read: `running/session:active/DexcomShare:waiting`. */
export function displayState(state: SourceStateValue): string {
  return [
    state.operation,
    `session:${state.session}`,
    ...loopModesOf(state).map(([loop, mode]) => `${loop}:${mode}`),
  ].join('/');
}

function isOneOf<T extends string>(modes: readonly T[], value: unknown): value is T {
  return modes.some((mode) => mode === value);
}

function isLoopModes(value: unknown): value is Record<string, LoopMode> {
  return typeof value === 'object' && value !== null && Object.values(value).every((mode) => isOneOf(LOOP_MODES, mode));
}
