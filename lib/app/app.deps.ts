/**
 * What the use cases need, as ports. Handlers and the local runner are the only places that choose adapters.
 */

import type { FrameMessage, PersistMessage } from '../domain/messages.js';
import type { NightscoutTarget, SourceCredentials } from '../domain/source.js';
import type { CredentialStore } from '../ports/credential.store.port.js';
import type { DeclarationFor, DriverFor, SpecFor } from '../ports/driver.port.js';
import type { NightscoutWriter } from '../ports/nightscout.writer.port.js';
import type { Clock, LogPort, MetricsPort } from '../ports/observability.port.js';
import type { MessageQueue } from '../ports/queue.port.js';
import type { SessionStore } from '../ports/session.store.port.js';
import type { ParkedHints, SourceStore } from '../ports/source.store.port.js';

export interface CoreDeps {
  sources: SourceStore;
  /**
   * A source's machine spec, from its vendor's declaration; per-source settings may shape its loops (the LibreLinkUp
   * interval). Never loads driver code: the tick needs nothing else about vendors.
   */
  specFor: SpecFor;
  /** Vendor advice per parked code, for the status people read (without it: "update the credentials"). */
  parkedHints?: ParkedHints;
  frameQueue: MessageQueue<FrameMessage>;
  clock: Clock;
  log: LogPort;
  metrics: MetricsPort;
}

export interface FetchDeps extends CoreDeps {
  /** A source's driver (declaration and implementation), loaded on first use. */
  driverFor: DriverFor;
  sessions: SessionStore;
  credentials: CredentialStore;
  persistQueue: MessageQueue<PersistMessage>;
  /** SQS maxReceiveCount of the fetch queue: the last allowed delivery reports the frame exhausted. */
  maxReceiveCount: number;
}

export interface PersistDeps extends CoreDeps {
  /**
   * A source's declared device string and its loops' look-back and re-read window. Declarations only: persist never
   * loads a driver implementation.
   */
  declarationFor: DeclarationFor;
  credentials: CredentialStore;
  writerFor: (target: NightscoutTarget, credentials: SourceCredentials['nightscout']) => NightscoutWriter;
  sessions: SessionStore;
  maxReceiveCount: number;
}

/** How a queue consumer should settle one message. */
export type Settlement = { settle: 'done' } | { settle: 'retry'; delaySeconds: number };
