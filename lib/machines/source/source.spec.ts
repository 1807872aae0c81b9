/**
 * What the source machine is built from: plain data a driver declares about its session and loops (the driver's
 * functions stay in lib/sources; a vendor declaration provides it through `specFor`). Owned by the machine, so the
 * machine depends on nothing outside lib/machines and lib/domain.
 */
import type { BackoffPolicy } from '../../domain/backoff.js';

export interface MachineLoopSpec {
  name: string;
  /** Expected interval between readings / polls. */
  intervalMs: number;
  /** Publish lag and spread added after each expected reading slot. */
  align: { lagMs: number; jitterMs: number };
  /** Attempts per frame (first try included) before the frame is reported exhausted. */
  attempts: number;
  /** Per-attempt backoff between tries of one frame. */
  retry: BackoffPolicy;
  /** Backoff between cycles after a frame failed. */
  backoff: BackoffPolicy;
}

export interface MachineSpec {
  kind: string;
  /** Session lifetime when the vendor does not say. */
  sessionLifetimeMs: number;
  /** In driver order: the first due loop carries the login. */
  loops: MachineLoopSpec[];
}
