/**
 * Stand-in for `@smithy/core/event-streams` in the Lambda bundles only (an esbuild alias in
 * lib/config/bundling.config.ts). The SDK loads it lazily for operations that stream events (Transcribe, Bedrock,
 * S3 Select); DynamoDB, SQS and Secrets Manager have none, yet the bundle carried ~20 KB of codec for it. Should an
 * operation ever need it, the call fails with this error.
 */
function refuse(): never {
  throw new Error('event streams are not supported in the Lambda bundles (@smithy/core/event-streams is stubbed out)');
}

export class EventStreamSerde {
  constructor() {
    refuse();
  }
}

export const eventStreamSerdeProvider = refuse;
