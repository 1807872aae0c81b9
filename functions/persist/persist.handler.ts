/** Persist handler factory: an SQS batch with partial batch responses. Wiring only. */
import { consumeBatch, type QueueRecord } from '../../lib/app/queue-batch.js';
import { persistFrame } from '../../lib/app/persist-frame.js';
import type { PersistDeps } from '../../lib/app/app.deps.js';
import type { PersistMessage } from '../../lib/domain/messages.js';
import type { RedeliveryControl } from '../../lib/ports/queue.port.js';

export function makePersistHandler(deps: PersistDeps & { redelivery: RedeliveryControl }, flush: () => void = () => {}) {
  return async (event: { Records: QueueRecord[] }) => {
    try {
      return await consumeBatch<PersistMessage>(event.Records, (body, receiveCount) => persistFrame(deps, body, receiveCount), deps.redelivery, deps.log);
    } finally {
      flush();
    }
  };
}
