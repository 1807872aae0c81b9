/**
 * The builder vendor implementations register with (nightscout-connect's `support_session` / `register_loop`), and the
 * assembly of a declaration and an implementation into the `Driver` the frame handlers run.
 *
 * A vendor's timing (loops, intervals, retry budgets, look-back) is declared in `<vendor>.vendor.ts`, because the tick
 * needs it and must not load driver code. The implementation in `<vendor>.source.ts` says only what happens: the
 * session (`authenticate`, `authorize`, optional `refresh`) and each loop's `fetch` (vendor HTTP) and `transform`
 * (pure), registered under the loop's declared name:
 *
 *   driverBuilder<DexcomShareSettings>().supportSession({…}).registerLoop('DexcomShare', { fetch, transform }).build()
 */

import type { RereadWindow } from '../domain/records.js';
import type { SourceCredentials } from '../domain/source.js';
import type {
  Driver,
  InteractiveLoginContext,
  LoopBehaviour,
  LoopSchedule,
  LoopSpec,
  SessionBehaviour,
} from '../ports/driver.port.js';

/** What `<vendor>.source.ts` exports: session and loop behaviour, no timing. */
export interface SourceImplementation<Settings, Auth = unknown, Session = unknown> {
  session: SessionBehaviour<Settings, Auth, Session>;
  loops: Readonly<Record<string, LoopBehaviour<Settings, Session, unknown>>>;
  login?(ctx: InteractiveLoginContext<Settings>): Promise<void>;
}

/**
 * Fluent builder: `driverBuilder<Settings>().supportSession({…}).registerLoop(name, {…}).build()`. `build()` refuses
 * an implementation without loops; a loop name registered twice is refused at once.
 */
export function driverBuilder<Settings>() {
  return {
    supportSession<Auth, Session>(session: SessionBehaviour<Settings, Auth, Session>) {
      const loops: Record<string, LoopBehaviour<Settings, Session, unknown>> = {};
      let login: ((ctx: InteractiveLoginContext<Settings>) => Promise<void>) | undefined;
      const withLoops = {
        registerLoop<Raw>(name: string, loop: LoopBehaviour<Settings, Session, Raw>) {
          if (Object.hasOwn(loops, name)) throw new Error(`driver: loop ${name} registered twice`);
          loops[name] = loop;
          return withLoops;
        },
        /** A login that needs a person; the vendor declares it too (`login` in its declaration) for the CLI. */
        supportInteractiveLogin(run: (ctx: InteractiveLoginContext<Settings>) => Promise<void>) {
          login = run;
          return withLoops;
        },
        build(): SourceImplementation<Settings, Auth, Session> {
          if (Object.keys(loops).length === 0) throw new Error('driver: no loop registered');
          return { session, loops: { ...loops }, ...(login ? { login } : {}) };
        },
      };
      return withLoops;
    },
  };
}

/** The declared half of a driver, as a vendor declaration provides it (see vendor.declaration.ts). */
export interface DeclaredDriver<Settings> {
  kind: string;
  device: string;
  sessionLifetimeMs: number;
  parseSettings(raw: Record<string, unknown>): Settings;
  checkCredentials(credentials: SourceCredentials): void;
  schedule(raw: Record<string, unknown>): LoopSchedule[];
}

/**
 * One driver from a declaration, an implementation and a source's stored settings (which may shape the schedule, e.g.
 * the LibreLinkUp interval). Every declared loop needs an implementation and every implemented loop a declaration.
 */
export function assembleDriver<Settings, Auth, Session>(
  declared: DeclaredDriver<Settings>,
  implementation: SourceImplementation<Settings, Auth, Session>,
  rawSettings: Record<string, unknown>,
): Driver<Settings, Auth, Session> {
  const schedule = declared.schedule(rawSettings);
  const loops: LoopSpec<Settings, Session, unknown>[] = schedule.map((timing) => {
    const behaviour = implementation.loops[timing.name];
    if (!behaviour) throw new Error(`driver ${declared.kind}: loop ${timing.name} is declared but not implemented`);
    return { ...timing, fetch: behaviour.fetch, transform: behaviour.transform };
  });
  for (const name of Object.keys(implementation.loops)) {
    if (!schedule.some((l) => l.name === name))
      throw new Error(`driver ${declared.kind}: loop ${name} is implemented but not declared`);
  }
  const driver: Driver<Settings, Auth, Session> = {
    kind: declared.kind,
    device: declared.device,
    parseSettings: (raw) => declared.parseSettings(raw),
    checkCredentials: (credentials) => declared.checkCredentials(credentials),
    session: { ...implementation.session, lifetimeMs: declared.sessionLifetimeMs },
    loops,
  };
  if (implementation.login) driver.login = implementation.login;
  return driver;
}

/**
 * Check a declared schedule once: at least one loop, unique names, at least one attempt per frame, positive intervals,
 * and a re-read window inside the look-back. Throws (a programming error in the declaration).
 */
export function checkSchedule(kind: string, schedule: readonly LoopSchedule[]): void {
  if (schedule.length === 0) throw new Error(`driver ${kind}: no loop declared`);
  const names = new Set<string>();
  for (const loop of schedule) {
    if (names.has(loop.name)) throw new Error(`driver ${kind}: loop ${loop.name} declared twice`);
    names.add(loop.name);
    if (!(loop.attempts >= 1)) throw new Error(`driver ${kind}: loop ${loop.name} needs at least one attempt`);
    if (!(loop.intervalMs > 0) || !(loop.maxLookbackMs > 0))
      throw new Error(`driver ${kind}: loop ${loop.name} needs a positive interval and look-back`);
    if (loop.reread) checkReread(kind, loop.name, loop.reread, loop.maxLookbackMs);
  }
}

/** A window reaching past the look-back would ask the writer for readings the vendor can no longer serve. */
function checkReread(kind: string, loop: string, reread: RereadWindow, maxLookbackMs: number): void {
  const ok = (v: number) => Number.isFinite(v) && v >= 0;
  if (!ok(reread.windowMs) || reread.windowMs > maxLookbackMs) {
    throw new Error(
      `driver ${kind}: loop ${loop} re-read window must be between 0 and its look-back (${maxLookbackMs} ms)`,
    );
  }
  if (!ok(reread.sameReadingMs) || (reread.sameReadingMs > 0 && reread.sameReadingMs >= reread.windowMs)) {
    throw new Error(
      `driver ${kind}: loop ${loop} same-reading tolerance must be ≥ 0 and shorter than the re-read window`,
    );
  }
}
