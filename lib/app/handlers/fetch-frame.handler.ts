/** Fetch-frame handler factory: an SQS batch with partial batch responses. Wiring only. */

import type { FrameMessage } from '../../domain/messages.js';
import type { QueueRecord, RedeliveryControl } from '../../ports/queue.port.js';
import type { FetchDeps } from '../app.deps.js';
import { fetchFrame } from '../fetch-frame.js';
import { consumeBatch } from '../queue-batch.js';

export function makeFetchFrameHandler(
  deps: FetchDeps & { redelivery: RedeliveryControl },
  flush: () => void = () => {},
) {
  return async (event: { Records: QueueRecord[] }) => {
    try {
      return await consumeBatch<FrameMessage>(
        event.Records,
        (body, receiveCount) => fetchFrame(deps, body, receiveCount),
        deps.redelivery,
        deps.log,
      );
    } finally {
      flush();
    }
  };
}
