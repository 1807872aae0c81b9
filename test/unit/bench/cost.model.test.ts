/**
 * The benchmark's cost arithmetic, checked formula by formula against hand-written expressions of the list prices
 * in serverless.md §6 (not against the model's own constants where a price is the point of the check).
 */
import { describe, expect, it } from 'vitest';
import {
  CYCLES_PER_MONTH,
  type CycleProfile,
  costFor,
  credentialShards,
  cycleCost,
  DEFAULT_ASSUMPTIONS,
  dynamoItemBytes,
  fixedMonthly,
  IDLE_POLLS_PER_QUEUE_MONTH,
  indexWriteUnits,
  logBytesPerCycle,
  PRICES,
  sum,
  TICKS_PER_MONTH,
  warmContainers,
} from '../../../bench/cost.model.js';

const profile: CycleProfile = {
  tableWru: 2,
  indexWru: 2,
  rru: 2.5,
  sqsRequests: 6,
  lambdaInvocations: 2,
  logBytes: 1024 ** 2,
};

describe('list prices (serverless.md §6)', () => {
  it('are the documented figures', () => {
    expect(PRICES.dynamoWru * 1e6).toBeCloseTo(0.625, 12);
    expect(PRICES.dynamoRru * 1e6).toBeCloseTo(0.125, 12);
    expect(PRICES.sqsRequest * 1e6).toBeCloseTo(0.4, 12);
    expect(PRICES.lambdaRequest * 1e6).toBeCloseTo(0.2, 12);
    expect(PRICES.lambdaArmGbSecond).toBe(0.0000133334);
    expect(PRICES.secretMonth).toBe(0.4);
    expect(PRICES.secretsApiCall * 10_000).toBeCloseTo(0.05, 12);
    expect(PRICES.logsIngestedGb).toBe(0.5);
    expect(CYCLES_PER_MONTH).toBe(8_640);
    expect(TICKS_PER_MONTH).toBe(43_200);
    expect(IDLE_POLLS_PER_QUEUE_MONTH).toBe(648_000);
  });
});

describe('capacity units', () => {
  it('index writes (KEYS_ONLY): none for an unchanged key, one to add or remove, delete + put to move', () => {
    expect(indexWriteUnits(undefined, undefined)).toBe(0);
    expect(indexWriteUnits('DUE#1|100', 'DUE#1|100')).toBe(0);
    expect(indexWriteUnits(undefined, 'DUE#1|100')).toBe(1);
    expect(indexWriteUnits('DUE#1|100', undefined)).toBe(1);
    expect(indexWriteUnits('DUE#1|100', 'DUE#1|400')).toBe(2);
  });
  it('item size: names plus values', () => {
    expect(dynamoItemBytes({ pk: { S: 'SOURCE#a' }, v: { N: '12' } })).toBe(2 + 8 + 1 + 2);
  });
});

describe('cycle cost', () => {
  it('prices each line from the profile', () => {
    const c = cycleCost(profile, DEFAULT_ASSUMPTIONS);
    expect(c.dynamoWrites).toBeCloseTo((2 + 2) * 0.625e-6, 15);
    expect(c.dynamoReads).toBeCloseTo(2.5 * 0.125e-6, 15);
    expect(c.sqs).toBeCloseTo(6 * 0.4e-6, 15);
    expect(c.lambdaRequests).toBeCloseTo(2 * 0.2e-6, 15);
    expect(c.lambdaDuration).toBeCloseTo(2 * 0.25 * 0.3 * 0.0000133334, 15);
    expect(c.logs).toBeCloseTo((1 / 1024) * 0.5, 15);
  });
  it('log bytes add the stated envelope and platform assumptions to the measured bytes', () => {
    expect(logBytesPerCycle(500, 2, 1)).toBe(500 + 2 * 300 + 600);
  });
});

describe('fixed monthly cost', () => {
  it('one credential secret per started 100 sources', () => {
    expect(credentialShards(1)).toBe(1);
    expect(credentialShards(100)).toBe(1);
    expect(credentialShards(101)).toBe(2);
    expect(credentialShards(1_000)).toBe(10);
  });
  it('warm containers follow invocations/s × duration, at least one', () => {
    expect(warmContainers(1, profile, DEFAULT_ASSUMPTIONS)).toBe(1);
    // 100,000 sources × 8,640 cycles × 1 invocation per function ÷ 2,592,000 s ≈ 333/s × 0.3 s = 100.
    expect(warmContainers(100_000, profile, DEFAULT_ASSUMPTIONS)).toBe(100);
  });
  it('tick, due queries, idle polling, secrets', () => {
    const f = fixedMonthly(1_000, profile, DEFAULT_ASSUMPTIONS);
    expect(f.tickRequests).toBeCloseTo(43_200 * 0.2e-6, 12);
    expect(f.tickDuration).toBeCloseTo(43_200 * 0.25 * 1 * 0.0000133334, 12);
    expect(f.tickDueQueries).toBeCloseTo(43_200 * 8 * 0.5 * 0.125e-6, 12);
    expect(f.idleSqsPolling).toBeCloseTo(2 * 648_000 * 0.4e-6, 12);
    expect(f.secretStorage).toBeCloseTo(10 * 0.4, 12);
    // 2 functions × 10 shards × 720 hourly cache refreshes × 1 warm container.
    expect(f.secretApiCalls).toBeCloseTo((2 * 10 * 720 * 0.05) / 10_000, 12);
  });
});

describe('cost per source-month', () => {
  it('is variable × cycles plus the fixed cost shared by the sources', () => {
    const row = costFor(100, profile);
    const variable = sum(cycleCost(profile)) * 8_640;
    const fixed = sum(fixedMonthly(100, profile));
    expect(row.variablePerSourceMonth).toBeCloseTo(variable, 12);
    expect(row.totalMonth).toBeCloseTo(variable * 100 + fixed, 10);
    expect(row.perSourceMonth).toBeCloseTo((variable * 100 + fixed) / 100, 12);
    expect(row.credentialShards).toBe(1);
  });
});
