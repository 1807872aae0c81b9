/** Fetch-frame handler factory: an SQS batch with partial batch responses. Wiring only. */
import { consumeBatch, type QueueRecord } from '../../lib/app/queue-batch.js';
import { fetchFrame } from '../../lib/app/fetch-frame.js';
import type { FetchDeps } from '../../lib/app/app.deps.js';
import type { FrameMessage } from '../../lib/domain/messages.js';
import type { RedeliveryControl } from '../../lib/ports/queue.port.js';

export function makeFetchFrameHandler(deps: FetchDeps & { redelivery: RedeliveryControl }, flush: () => void = () => {}) {
  return async (event: { Records: QueueRecord[] }) => {
    try {
      return await consumeBatch<FrameMessage>(event.Records, (body, receiveCount) => fetchFrame(deps, body, receiveCount), deps.redelivery, deps.log);
    } finally {
      flush();
    }
  };
}
