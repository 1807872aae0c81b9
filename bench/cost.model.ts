/**
 * Cost per source-month from measured request counts at AWS list prices (us-east-1, free tier ignored).
 * Every price is quoted from /work/shared/reference/serverless.md §6 ("Cost model"); the section and the line it
 * appears on are named beside each constant. The arithmetic is pure so test/unit/bench/cost.model.test.ts can check
 * it formula by formula.
 */

/** List prices in USD. */
export const PRICES = {
  /** serverless.md §6.2, "DynamoDB writes … 25,920 WRU × $0.625/M" (on-demand write request unit). */
  dynamoWru: 0.625 / 1_000_000,
  /** serverless.md §6.2, "DynamoDB reads … 8,640 RRU × $0.125/M" (on-demand read request unit). */
  dynamoRru: 0.125 / 1_000_000,
  /** serverless.md §6.2, "SQS … 51,840 × $0.40/M" (per request, ≤ 64 KB chunk). */
  sqsRequest: 0.4 / 1_000_000,
  /** serverless.md §6.2, "Lambda requests … 17,280 × $0.20/M". */
  lambdaRequest: 0.2 / 1_000_000,
  /** serverless.md §6.2, "Lambda duration … GB-s × $0.0000133334" (arm64). */
  lambdaArmGbSecond: 0.0000133334,
  /** serverless.md §6.2, "Secrets Manager secret 1 × $0.40" per secret-month. */
  secretMonth: 0.4,
  /** serverless.md §6.2, "Secrets Manager API … × $0.05/10k" calls. */
  secretsApiCall: 0.05 / 10_000,
  /** serverless.md §6.2, "CloudWatch Logs … × $0.50/GB" ingested. */
  logsIngestedGb: 0.5,
} as const;

/** serverless.md §6.1: every source polled every 5 min, 30 × 24 × 12 cycles a month. */
export const CYCLES_PER_MONTH = 30 * 24 * 12;
/** serverless.md §6.3: one tick a minute, 43,200 invocations a month. */
export const TICKS_PER_MONTH = 30 * 24 * 60;
export const HOURS_PER_MONTH = 30 * 24;
export const SECONDS_PER_MONTH = 30 * 24 * 3600;
/** serverless.md §6.3 (an estimate, not a measurement): ~5 long polls per 20 s per idle queue ⇒ 648k/queue-month. */
export const IDLE_POLLS_PER_QUEUE_MONTH = 5 * 3 * TICKS_PER_MONTH;
/** Queues with a Lambda event source mapping (fetch, persist); DLQs are not polled. */
export const POLLED_QUEUES = 2;
/** Sources per credential secret in community mode (secrets-manager-credential.store.ts: shards = ceil(n/100)). */
export const SOURCES_PER_SECRET = 100;
const GB = 1024 ** 3;
/**
 * Assumption (not measured): bytes the Lambda JSON logger (lib/runtime/observability.ts, Powertools' envelope) adds to
 * each structured line (timestamp, service, sampling_rate, xray_trace_id), rounded up generously. The sim's
 * RecordingLog writes only level, message and fields. (The name keeps the results file's key.)
 */
export const POWERTOOLS_ENVELOPE_BYTES_PER_LINE = 300;
/** Assumption (not measured): Lambda platform records per invocation in JSON log format (platform.start + platform.report). */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 600;

/** CloudWatch Logs bytes per cycle: measured app bytes and lines, plus the two stated per-line/per-invocation assumptions. */
export function logBytesPerCycle(appBytes: number, appLines: number, invocations: number): number {
  return appBytes + appLines * POWERTOOLS_ENVELOPE_BYTES_PER_LINE + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION;
}

/** What one source-cycle costs, from a simulated run (per completed cycle = Outcome_persisted). */
export interface CycleProfile {
  /** Table write units per cycle, as DynamoDB (dynalite) reported them in ConsumedCapacity. */
  tableWru: number;
  /** Due-index write units per cycle, derived from the observed index-key transitions (see indexWriteUnits). */
  indexWru: number;
  /** Read units per cycle outside the tick's fixed shard queries, as reported in ConsumedCapacity. */
  rru: number;
  /** SQS requests (SendMessageBatch + ReceiveMessage + DeleteMessageBatch) per cycle. */
  sqsRequests: number;
  /** fetch-frame + persist Lambda invocations per cycle (one per ESM receive that returned messages). */
  lambdaInvocations: number;
  /** CloudWatch Logs bytes ingested per cycle. */
  logBytes: number;
}

export interface DeploymentAssumptions {
  /** Lambda memory (GB); the construct defaults to 256 MB. */
  memoryGb: number;
  /** Billed duration of one fetch-frame/persist invocation (s). */
  invocationSeconds: number;
  /** Billed duration of one tick invocation (s). */
  tickSeconds: number;
  /** Due-index shards queried by every tick (each Query costs at least 0.5 RRU eventually consistent). */
  dueShards: number;
  /** Credential cache TTL in hours (SecretsManagerCredentialStore default: 1 h). */
  secretCacheHours: number;
  /** Functions that read credentials (fetch-frame, persist). */
  secretReadingFunctions: number;
}

export const DEFAULT_ASSUMPTIONS: DeploymentAssumptions = {
  memoryGb: 256 / 1024,
  // serverless.md §6.1 assumes ~300 ms per invocation; stated, not measured on Lambda.
  invocationSeconds: 0.3,
  // serverless.md §6.3 assumes ~1 s per tick; stated, not measured on Lambda.
  tickSeconds: 1,
  dueShards: 8,
  secretCacheHours: 1,
  secretReadingFunctions: 2,
};

/** An item's place in the due index: its (dueShard, nextDueAt) key, or undefined when it is not indexed. */
export type IndexKey = string | undefined;

/**
 * Index write units for one table write, by the documented GSI rules for a KEYS_ONLY projection of a small item:
 * unchanged key (or never indexed) → 0; added or removed → 1; key changed → 2 (delete + put). dynalite does not
 * report index capacity, so the benchmark derives it from the keys it saw written.
 */
export function indexWriteUnits(before: IndexKey, after: IndexKey): number {
  if (before === after) return 0;
  if (before === undefined || after === undefined) return 1;
  return 2;
}

export interface LineItems {
  dynamoWrites: number;
  dynamoReads: number;
  sqs: number;
  lambdaRequests: number;
  lambdaDuration: number;
  logs: number;
}

/** Variable cost of one source-cycle, by line. */
export function cycleCost(p: CycleProfile, a: DeploymentAssumptions = DEFAULT_ASSUMPTIONS): LineItems {
  return {
    dynamoWrites: (p.tableWru + p.indexWru) * PRICES.dynamoWru,
    dynamoReads: p.rru * PRICES.dynamoRru,
    sqs: p.sqsRequests * PRICES.sqsRequest,
    lambdaRequests: p.lambdaInvocations * PRICES.lambdaRequest,
    lambdaDuration: p.lambdaInvocations * a.memoryGb * a.invocationSeconds * PRICES.lambdaArmGbSecond,
    logs: (p.logBytes / GB) * PRICES.logsIngestedGb,
  };
}

export function sum(items: object): number {
  return Object.values(items as Record<string, number>).reduce((s, v) => s + v, 0);
}

export interface FixedItems {
  tickRequests: number;
  tickDuration: number;
  tickDueQueries: number;
  idleSqsPolling: number;
  secretStorage: number;
  secretApiCalls: number;
}

export function credentialShards(sources: number): number {
  return Math.max(1, Math.ceil(sources / SOURCES_PER_SECRET));
}

/**
 * Warm containers per credential-reading function: concurrency = invocations per second × duration (Little's law),
 * at least one. Each warm container reads each shard once per cache TTL.
 */
export function warmContainers(sources: number, p: CycleProfile, a: DeploymentAssumptions): number {
  const perFunctionPerSecond =
    (sources * CYCLES_PER_MONTH * (p.lambdaInvocations / a.secretReadingFunctions)) / SECONDS_PER_MONTH;
  return Math.max(1, Math.ceil(perFunctionPerSecond * a.invocationSeconds));
}

/** Per-deployment monthly costs that do not scale per cycle (secrets scale in steps of 100 sources). */
export function fixedMonthly(
  sources: number,
  p: CycleProfile,
  a: DeploymentAssumptions = DEFAULT_ASSUMPTIONS,
): FixedItems {
  const shards = credentialShards(sources);
  const reads =
    a.secretReadingFunctions * shards * (HOURS_PER_MONTH / a.secretCacheHours) * warmContainers(sources, p, a);
  return {
    tickRequests: TICKS_PER_MONTH * PRICES.lambdaRequest,
    tickDuration: TICKS_PER_MONTH * a.memoryGb * a.tickSeconds * PRICES.lambdaArmGbSecond,
    tickDueQueries: TICKS_PER_MONTH * a.dueShards * 0.5 * PRICES.dynamoRru,
    idleSqsPolling: POLLED_QUEUES * IDLE_POLLS_PER_QUEUE_MONTH * PRICES.sqsRequest,
    secretStorage: shards * PRICES.secretMonth,
    secretApiCalls: reads * PRICES.secretsApiCall,
  };
}

export interface CostRow {
  sources: number;
  credentialShards: number;
  variablePerSourceMonth: number;
  fixedPerDeploymentMonth: number;
  totalMonth: number;
  perSourceMonth: number;
  variable: LineItems;
  fixed: FixedItems;
}

export function costFor(sources: number, p: CycleProfile, a: DeploymentAssumptions = DEFAULT_ASSUMPTIONS): CostRow {
  const perCycle = cycleCost(p, a);
  const variable = Object.fromEntries(
    Object.entries(perCycle).map(([k, v]) => [k, v * CYCLES_PER_MONTH]),
  ) as unknown as LineItems;
  const fixed = fixedMonthly(sources, p, a);
  const variablePerSourceMonth = sum(variable);
  const fixedPerDeploymentMonth = sum(fixed);
  const totalMonth = variablePerSourceMonth * sources + fixedPerDeploymentMonth;
  return {
    sources,
    credentialShards: credentialShards(sources),
    variablePerSourceMonth,
    fixedPerDeploymentMonth,
    totalMonth,
    perSourceMonth: totalMonth / sources,
    variable,
    fixed,
  };
}

/**
 * DynamoDB item size (bytes) by the documented rules, approximately: attribute name UTF-8 length plus value size;
 * strings by UTF-8 length, numbers ~ 1 byte per 2 significant digits + 1.
 */
export function dynamoItemBytes(item: Record<string, { S?: string; N?: string }>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S);
    else if (value.N !== undefined) bytes += Math.ceil(value.N.replace(/[-.]/g, '').replace(/^0+/, '').length / 2) + 1;
  }
  return bytes;
}
