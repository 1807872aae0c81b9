import { describe, expect, it } from 'vitest';
import {
  createEmfMetrics,
  createJsonLogger,
  EMF_MAX_METRICS,
  EMF_MAX_VALUES,
} from '../../../lib/runtime/observability.js';

const T0 = Date.UTC(2026, 10, 23, 6, 0, 7, 123);

function capture() {
  const lines: Array<{ stream: 'stdout' | 'stderr'; line: string }> = [];
  return { lines, write: (line: string, stream: 'stdout' | 'stderr') => lines.push({ stream, line }) };
}

describe('createJsonLogger', () => {
  it('writes the Powertools envelope first (level, message, timestamp, service, sampling_rate, xray_trace_id), then the fields', () => {
    // Prepare
    const out = capture();
    const log = createJsonLogger({
      service: 'stack-tick',
      write: out.write,
      now: () => T0,
      traceId: () => '1-5759e988-bd862e3fe1be46a994272793',
    });

    // Act
    log.info('tick done', { due: 3, nested: { a: 1 } });

    // Assess
    expect(out.lines).toEqual([
      {
        stream: 'stdout',
        line:
          '{"level":"INFO","message":"tick done","timestamp":"2026-11-23T06:00:07.123Z","service":"stack-tick","sampling_rate":0,' +
          '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","due":3,"nested":{"a":1}}',
      },
    ]);
  });

  it('leaves out xray_trace_id outside a traced invocation, and fields cannot overwrite the envelope', () => {
    const out = capture();
    const log = createJsonLogger({ service: 's', write: out.write, now: () => T0 });

    log.info('real message', { level: 'DEBUG', message: 'forged', service: 'other', sourceId: 'a' });

    expect(JSON.parse(out.lines[0].line)).toEqual({
      level: 'INFO',
      message: 'real message',
      timestamp: '2026-11-23T06:00:07.123Z',
      service: 's',
      sampling_rate: 0,
      sourceId: 'a',
    });
  });

  it('writes WARN and ERROR to stderr, DEBUG and INFO to stdout', () => {
    const out = capture();
    const log = createJsonLogger({ service: 's', level: 'DEBUG', write: out.write, now: () => T0 });

    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');

    expect(out.lines.map((l) => [JSON.parse(l.line).level, l.stream])).toEqual([
      ['DEBUG', 'stdout'],
      ['INFO', 'stdout'],
      ['WARN', 'stderr'],
      ['ERROR', 'stderr'],
    ]);
  });

  it.each([
    ['DEBUG', ['DEBUG', 'INFO', 'WARN', 'ERROR']],
    ['INFO', ['INFO', 'WARN', 'ERROR']],
    ['warn', ['WARN', 'ERROR']],
    ['ERROR', ['ERROR']],
    [undefined, ['INFO', 'WARN', 'ERROR']],
    ['LOUD', ['INFO', 'WARN', 'ERROR']],
  ])('level %s lets through %j', (level, expected) => {
    const out = capture();
    const log = createJsonLogger({ service: 's', level, write: out.write });

    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');

    expect(out.lines.map((l) => JSON.parse(l.line).level)).toEqual(expected);
  });

  it('serialises errors with their cause, bigints as strings and repeated references as [Circular]', () => {
    const out = capture();
    const log = createJsonLogger({ service: 's', write: out.write });
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;

    log.error('failed', {
      error: new TypeError('outer', { cause: new Error('inner') }),
      big: 12345678901234567890n,
      loop,
    });

    const entry = JSON.parse(out.lines[0].line);
    expect(entry.error).toMatchObject({
      name: 'TypeError',
      message: 'outer',
      cause: { name: 'Error', message: 'inner' },
    });
    expect(entry.error.stack).toMatch(/^TypeError: outer/);
    expect(entry.big).toBe('12345678901234567890');
    expect(entry.loop).toEqual({ name: 'loop', self: '[Circular]' });
  });
});

describe('createEmfMetrics', () => {
  it('flushes one EMF document in the namespace with the service dimension, repeated values as an array', () => {
    // Prepare
    const out = capture();
    const metrics = createEmfMetrics({
      namespace: 'NightscoutConnect',
      service: 'stack-persist',
      write: out.write,
      now: () => T0,
    });

    // Act
    metrics.count('ReadingsWritten', 3);
    metrics.timing('FreshnessLagMs', 12_500);
    metrics.timing('FreshnessLagMs', 40_000);
    metrics.count('Logins');
    metrics.flush();

    // Assess
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0].stream).toBe('stdout');
    expect(JSON.parse(out.lines[0].line)).toEqual({
      _aws: {
        Timestamp: T0,
        CloudWatchMetrics: [
          {
            Namespace: 'NightscoutConnect',
            Dimensions: [['service']],
            Metrics: [
              { Name: 'ReadingsWritten', Unit: 'Count' },
              { Name: 'FreshnessLagMs', Unit: 'Milliseconds' },
              { Name: 'Logins', Unit: 'Count' },
            ],
          },
        ],
      },
      service: 'stack-persist',
      ReadingsWritten: 3,
      FreshnessLagMs: [12_500, 40_000],
      Logins: 1,
    });
  });

  it('writes nothing when nothing was recorded, and starts empty after a flush', () => {
    const out = capture();
    const metrics = createEmfMetrics({ namespace: 'N', service: 's', write: out.write });

    metrics.flush();
    metrics.count('A');
    metrics.flush();
    metrics.flush();

    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0].line).A).toBe(1);
  });

  it(`flushes early at ${EMF_MAX_VALUES} values of one metric, so no document passes EMF's limit`, () => {
    const out = capture();
    const metrics = createEmfMetrics({ namespace: 'N', service: 's', write: out.write });

    for (let i = 0; i < EMF_MAX_VALUES + 1; i++) metrics.timing('FreshnessLagMs', i);
    metrics.flush();

    const documents = out.lines.map((l) => JSON.parse(l.line));
    expect(documents.map((d) => [d.FreshnessLagMs].flat().length)).toEqual([EMF_MAX_VALUES, 1]);
    expect(documents.flatMap((d) => [d.FreshnessLagMs].flat())).toEqual(
      Array.from({ length: EMF_MAX_VALUES + 1 }, (_, i) => i),
    );
  });

  it(`flushes early before a ${EMF_MAX_METRICS + 1}th metric name`, () => {
    const out = capture();
    const metrics = createEmfMetrics({ namespace: 'N', service: 's', write: out.write });

    for (let i = 0; i <= EMF_MAX_METRICS; i++) metrics.count(`M${i}`);
    metrics.flush();

    const documents = out.lines.map((l) => JSON.parse(l.line));
    expect(documents.map((d) => d._aws.CloudWatchMetrics[0].Metrics.length)).toEqual([EMF_MAX_METRICS, 1]);
    expect(documents[1][`M${EMF_MAX_METRICS}`]).toBe(1);
  });
});
