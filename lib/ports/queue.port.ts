/**
 * A message queue with per-message delay (SQS standard semantics: at-least-once, delay ≤ 900 s).
 * Bodies are JSON-serialisable objects; adapters serialise them.
 */
export interface OutgoingMessage<T> {
  body: T;
  /** Seconds before the message becomes visible; adapters clamp to 0–900. */
  delaySeconds: number;
}

export interface MessageQueue<T> {
  send(messages: OutgoingMessage<T>[]): Promise<void>;
}

/** Lets a consumer push a failed message's next delivery out (capped exponential visibility backoff). */
export interface RedeliveryControl {
  retryAfter(receiptHandle: string, seconds: number): Promise<void>;
}

/** The fields of an SQS event record a consumer uses (the Lambda event shape, also built by local pollers). */
export interface QueueRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: { ApproximateReceiveCount: string };
}

/** Partial batch response: only the listed records return to the queue. */
export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}
