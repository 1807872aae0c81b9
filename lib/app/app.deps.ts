/**
 * What the use cases need, as ports. Handlers and the local runner are the only places that choose adapters.
 */
import type { SourceStore } from '../ports/source.store.port.js';
import type { SessionStore } from '../ports/session.store.port.js';
import type { CredentialStore } from '../ports/credential.store.port.js';
import type { MessageQueue } from '../ports/queue.port.js';
import type { Clock, LogPort, MetricsPort } from '../ports/observability.port.js';
import type { NightscoutWriter } from '../ports/nightscout.writer.port.js';
import type { FrameMessage, PersistMessage } from '../domain/messages.js';
import type { Driver } from '../sources/driver.builder.js';
import type { NightscoutTarget, SourceConfig, SourceCredentials } from '../domain/source.js';

export interface CoreDeps {
  sources: SourceStore;
  /** The driver for a source; per-source settings may shape its loops (e.g. the LibreLinkUp interval). */
  drivers: (config: SourceConfig) => Driver;
  frameQueue: MessageQueue<FrameMessage>;
  clock: Clock;
  log: LogPort;
  metrics: MetricsPort;
}

export interface FetchDeps extends CoreDeps {
  sessions: SessionStore;
  credentials: CredentialStore;
  persistQueue: MessageQueue<PersistMessage>;
  /** SQS maxReceiveCount of the fetch queue: the last allowed delivery reports the frame exhausted. */
  maxReceiveCount: number;
}

export interface PersistDeps extends CoreDeps {
  credentials: CredentialStore;
  writerFor: (target: NightscoutTarget, credentials: SourceCredentials['nightscout']) => NightscoutWriter;
  sessions: SessionStore;
  maxReceiveCount: number;
}

/** How a queue consumer should settle one message. */
export type Settlement = { settle: 'done' } | { settle: 'retry'; delaySeconds: number };
