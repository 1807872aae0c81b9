/** Persist handler factory: an SQS batch with partial batch responses. Wiring only. */

import type { PersistMessage } from '../../domain/messages.js';
import type { QueueRecord, RedeliveryControl } from '../../ports/queue.port.js';
import type { PersistDeps } from '../app.deps.js';
import { persistFrame } from '../persist-frame.js';
import { consumeBatch } from '../queue-batch.js';

export function makePersistHandler(
  deps: PersistDeps & { redelivery: RedeliveryControl },
  flush: () => void = () => {},
) {
  return async (event: { Records: QueueRecord[] }) => {
    try {
      return await consumeBatch<PersistMessage>(
        event.Records,
        (body, receiveCount) => persistFrame(deps, body, receiveCount),
        deps.redelivery,
        deps.log,
      );
    } finally {
      flush();
    }
  };
}
