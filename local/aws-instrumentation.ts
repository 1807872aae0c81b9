/**
 * Benchmark and test instrumentation for AWS SDK v3 clients: request counting and DynamoDB capacity metering.
 * It lives in the local tooling, never in the product: production clients never carry this middleware.
 */
/** Counts AWS requests by `<service>.<Operation>` (e.g. `DynamoDB.GetItem`), retries included. */
export class RequestCounter {
  counts: Record<string, number> = {};

  add(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  reset(): void {
    this.counts = {};
  }

  total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }
}

/** The middleware-stack surface shared by every SDK v3 client; typed loosely so one helper fits all three. */
interface ClientWithStack {
  middlewareStack: {
    add(
      middleware: unknown,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string; override?: boolean },
    ): void;
  };
}

/**
 * Adds middleware that records every HTTP attempt. It sits late in `finalizeRequest`, inside the retry middleware,
 * so an SDK retry counts as a second request: AWS bills attempts, and the benchmark must be honest about them.
 */
export function countRequests(client: ClientWithStack, counter: RequestCounter): void {
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) =>
    async (args: unknown) => {
      const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      counter.add(`${service}.${operation}`);
      return next(args);
    };
  client.middlewareStack.add(middleware, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'nightscoutConnectRequestCounter',
    override: true,
  });
}

/** What a metered command consumed and touched (for the benchmark's capacity figures). */
export interface MeteredCommand {
  operation: string;
  input: Record<string, unknown>;
  /** Capacity units DynamoDB reported for the table(s), summed over the response's ConsumedCapacity entries. */
  capacityUnits: number;
}

const METERED_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);

/**
 * Benchmark instrumentation: asks DynamoDB to report ConsumedCapacity (TOTAL) on every metered command and hands
 * the figure, with the command's input, to `observe`. Production clients never carry this middleware.
 */
export function meterCapacity(client: ClientWithStack, observe: (command: MeteredCommand) => void): void {
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const operation = (context.commandName ?? '').replace(/Command$/, '');
      if (!METERED_OPERATIONS.has(operation)) return next(args);
      const input = (args as { input: Record<string, unknown> }).input;
      input.ReturnConsumedCapacity = 'TOTAL';
      const result = (await next(args)) as {
        output?: { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };
      };
      const consumed = result.output?.ConsumedCapacity;
      const entries = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
      observe({ operation, input, capacityUnits: entries.reduce((sum, e) => sum + (e.CapacityUnits ?? 0), 0) });
      return result;
    };
  (
    client.middlewareStack as unknown as {
      add(m: unknown, o: { step: 'initialize'; name: string; override: boolean }): void;
    }
  ).add(middleware, { step: 'initialize', name: 'nightscoutConnectCapacityMeter', override: true });
}
