/**
 * An in-memory queue with SQS standard-queue semantics on a caller-supplied clock. SQS delays and visibility
 * timeouts are wall-clock, so a simulated day cannot run against fauxqs; this queue lets the local runner's
 * `--simulate` mode and the end-to-end tests jump time instead (see `nextVisibleAt`).
 *
 * Modelled: per-message delay (0–900 s), visibility timeout on receive, receive counts, receipt handles that go
 * stale on re-receive (deleting with a stale one is silently ignored, as in SQS), a move to the DLQ on the receive
 * that would exceed maxReceiveCount, and a DLQ redrive like StartMessageMoveTask. Bodies are JSON-round-tripped on
 * send, so a consumer sees exactly what SQS would deliver and non-JSON values fail loudly here instead of silently
 * changing shape in AWS.
 */
import { SourceRejectedError } from '../../domain/errors.js';
import type { MessageQueue, OutgoingMessage, RedeliveryControl } from '../../ports/queue.port.js';

export const MEMORY_QUEUE_MAX_DELAY_SECONDS = 900;
export const MEMORY_QUEUE_MAX_VISIBILITY_SECONDS = 43_200;
/** SQS's current message size limit. */
export const MEMORY_QUEUE_MAX_BODY_BYTES = 1_048_576;

export interface MemoryQueueOptions<T> {
  name: string;
  clock: { now(): number };
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  dlq?: MemoryQueue<T>;
}

export interface ReceivedMessage<T> {
  messageId: string;
  receiptHandle: string;
  body: T;
  /** Deliveries so far, this one included (SQS ApproximateReceiveCount). */
  receiveCount: number;
  sentAt: number;
}

interface StoredMessage {
  messageId: string;
  seq: number;
  json: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receiptHandle?: string;
}

export class MemoryQueue<T> implements MessageQueue<T> {
  readonly name: string;
  private readonly clock: { now(): number };
  private readonly visibilityTimeoutSeconds: number;
  private readonly maxReceiveCount: number;
  private readonly dlq?: MemoryQueue<T>;
  private readonly messages = new Map<string, StoredMessage>();
  private readonly byHandle = new Map<string, string>();
  private seq = 0;

  constructor(opts: MemoryQueueOptions<T>) {
    this.name = opts.name;
    this.clock = opts.clock;
    this.visibilityTimeoutSeconds = opts.visibilityTimeoutSeconds;
    this.maxReceiveCount = opts.maxReceiveCount;
    this.dlq = opts.dlq;
  }

  async send(messages: OutgoingMessage<T>[]): Promise<void> {
    // Validate the whole batch first, so a bad entry does not leave half a batch enqueued.
    const prepared = messages.map((m) => ({
      json: serializeBody(m.body),
      delay: clamp(m.delaySeconds, MEMORY_QUEUE_MAX_DELAY_SECONDS),
    }));
    const now = this.clock.now();
    for (const { json, delay } of prepared) {
      this.insert({ json, sentAt: now, visibleAt: now + delay * 1000, receiveCount: 0 });
    }
  }

  /**
   * Up to `max` (1–10, as SQS) visible messages, oldest first; each becomes invisible for the visibility timeout.
   * A message whose delivery would exceed maxReceiveCount goes to the DLQ instead (when one is configured).
   */
  receive(max = 10): Array<ReceivedMessage<T>> {
    const now = this.clock.now();
    const visible = [...this.messages.values()]
      .filter((m) => m.visibleAt <= now)
      .sort((a, b) => a.sentAt - b.sentAt || a.seq - b.seq);
    const out: Array<ReceivedMessage<T>> = [];
    for (const message of visible) {
      if (out.length >= Math.min(Math.max(1, max), 10)) break;
      const attempt = message.receiveCount + 1;
      if (this.dlq && attempt > this.maxReceiveCount) {
        this.drop(message);
        // As in SQS, the failed attempt counts and the original send time is kept.
        this.dlq.insert({
          json: message.json,
          sentAt: message.sentAt,
          visibleAt: now,
          receiveCount: attempt,
          messageId: message.messageId,
        });
        continue;
      }
      if (message.receiptHandle) this.byHandle.delete(message.receiptHandle);
      message.receiveCount = attempt;
      message.receiptHandle = `${this.name}:${message.messageId}:${attempt}`;
      message.visibleAt = now + this.visibilityTimeoutSeconds * 1000;
      this.byHandle.set(message.receiptHandle, message.messageId);
      out.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: JSON.parse(message.json) as T,
        receiveCount: attempt,
        sentAt: message.sentAt,
      });
    }
    return out;
  }

  /** Deletes a received message. A stale handle (the message was received again since) is ignored, as in SQS. */
  delete(receiptHandle: string): boolean {
    const message = this.messageFor(receiptHandle);
    if (!message) return false;
    this.drop(message);
    return true;
  }

  /** Makes a received message visible again `seconds` from now (clamped to 0–43,200). */
  changeVisibility(receiptHandle: string, seconds: number): boolean {
    const message = this.messageFor(receiptHandle);
    if (!message) return false;
    message.visibleAt = this.clock.now() + clamp(seconds, MEMORY_QUEUE_MAX_VISIBILITY_SECONDS) * 1000;
    return true;
  }

  /** The earliest instant any message is or becomes visible; the simulated clock jumps here when idle. */
  nextVisibleAt(): number | undefined {
    let next: number | undefined;
    for (const message of this.messages.values())
      if (next === undefined || message.visibleAt < next) next = message.visibleAt;
    return next;
  }

  /** All messages held: visible, delayed and in flight. */
  depth(): number {
    return this.messages.size;
  }

  stats(): { visible: number; delayed: number; inFlight: number } {
    const now = this.clock.now();
    let visible = 0;
    let delayed = 0;
    let inFlight = 0;
    for (const m of this.messages.values()) {
      if (m.visibleAt <= now) visible++;
      else if (m.receiveCount > 0) inFlight++;
      else delayed++;
    }
    return { visible, delayed, inFlight };
  }

  /** Moves every message back to `target` with its receive count reset (StartMessageMoveTask). Returns the count. */
  redriveAllTo(target: MemoryQueue<T>): number {
    const moving = [...this.messages.values()].sort((a, b) => a.sentAt - b.sentAt || a.seq - b.seq);
    const now = this.clock.now();
    for (const message of moving) {
      this.drop(message);
      target.insert({
        json: message.json,
        sentAt: message.sentAt,
        visibleAt: now,
        receiveCount: 0,
        messageId: message.messageId,
      });
    }
    return moving.length;
  }

  private insert(m: {
    json: string;
    sentAt: number;
    visibleAt: number;
    receiveCount: number;
    messageId?: string;
  }): void {
    const seq = ++this.seq;
    const messageId = m.messageId ?? `${this.name}-${seq}`;
    this.messages.set(messageId, {
      messageId,
      seq,
      json: m.json,
      sentAt: m.sentAt,
      visibleAt: m.visibleAt,
      receiveCount: m.receiveCount,
    });
  }

  private drop(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    if (message.receiptHandle) this.byHandle.delete(message.receiptHandle);
  }

  private messageFor(receiptHandle: string): StoredMessage | undefined {
    const id = this.byHandle.get(receiptHandle);
    const message = id === undefined ? undefined : this.messages.get(id);
    return message?.receiptHandle === receiptHandle ? message : undefined;
  }
}

export class MemoryRedeliveryControl implements RedeliveryControl {
  constructor(private readonly queue: MemoryQueue<unknown>) {}

  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    this.queue.changeVisibility(receiptHandle, seconds);
  }
}

/**
 * Serialises a queue body as SQS would carry it, refusing values that JSON would silently change: functions,
 * symbols, bigints, non-finite numbers, `undefined` inside arrays, and non-plain objects (Date, Map, class
 * instances). `undefined` object properties are allowed: they are simply absent after the trip, like optional fields.
 */
export function serializeBody(body: unknown): string {
  assertJsonSafe(body, '$');
  const json = JSON.stringify(body);
  if (Buffer.byteLength(json, 'utf8') > MEMORY_QUEUE_MAX_BODY_BYTES) {
    throw new SourceRejectedError('queue message body exceeds 1 MiB', 'QUEUE.BODY_TOO_LARGE');
  }
  return json;
}

/** The value a consumer receives after SQS: `JSON.parse(JSON.stringify(body))`, with the checks above. */
export function jsonRoundTrip<T>(body: T): T {
  return JSON.parse(serializeBody(body)) as T;
}

function assertJsonSafe(value: unknown, path: string): void {
  const fail = (what: string) => {
    throw new SourceRejectedError(`queue message body is not JSON-safe at ${path}: ${what}`, 'QUEUE.BODY_NOT_JSON');
  };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail('non-finite number');
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          if (item === undefined) fail(`undefined at index ${i}`);
          assertJsonSafe(item, `${path}[${i}]`);
        });
        return;
      }
      {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null)
          fail(`${(value as object).constructor?.name ?? 'non-plain'} object`);
      }
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) assertJsonSafe(item, `${path}.${key}`);
      }
      return;
    default:
      fail(typeof value);
  }
}

/** Whole seconds in [0, max], rounded up like the SQS adapter does, so simulation and AWS agree on timing. */
function clamp(seconds: number, max: number): number {
  if (Number.isNaN(seconds)) return 0;
  return Math.min(max, Math.max(0, Math.ceil(seconds)));
}
