// Pure parts of the CLI: the DLQ move-task request and its wait, the credentials ↔ CONNECT_* mapping, and secret
// input parsing that never quotes what it was given. (The CLI end to end is test/integration/cli.int.test.ts.)
import { describe, expect, it } from 'vitest';
import { buildMoveTaskCommand, redriveWithMoveTask } from '../../../lib/adapters/aws/sqs-dlq.redrive.js';
import { credentialsAsEnv, isSecretKey, parseConnectInput } from '../../../lib/cli/read-secret.js';
import { parseConnectSource } from '../../../lib/config/connect-env.config.js';

const CANARY = 'Canary-Pw-9f1c-DO-NOT-LEAK';

describe('CLI building blocks', () => {
  it('builds the AWS StartMessageMoveTask request with the DLQ ARN as source', () => {
    const command = buildMoveTaskCommand(
      'arn:aws:sqs:eu-west-1:123456789012:S-fetch-dlq',
      'arn:aws:sqs:eu-west-1:123456789012:S-fetch',
      50,
    );
    expect(command.input).toEqual({
      SourceArn: 'arn:aws:sqs:eu-west-1:123456789012:S-fetch-dlq',
      DestinationArn: 'arn:aws:sqs:eu-west-1:123456789012:S-fetch',
      MaxNumberOfMessagesPerSecond: 50,
    });
  });

  it('waits for its own move task and reports the messages moved', async () => {
    const sent: Array<{ name: string; input: unknown }> = [];
    let polls = 0;
    const fake = {
      async send(command: unknown) {
        const c = command as { constructor: { name: string }; input: unknown };
        sent.push({ name: c.constructor.name, input: c.input });
        if (c.constructor.name === 'StartMessageMoveTaskCommand') return { TaskHandle: 'task-2' };
        polls++;
        return {
          Results: [
            {
              TaskHandle: 'task-2',
              Status: polls < 3 ? 'RUNNING' : 'COMPLETED',
              ApproximateNumberOfMessagesMoved: polls < 3 ? 1 : 4,
              ApproximateNumberOfMessagesToMove: 4,
            },
            { TaskHandle: 'task-1', Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 99 },
          ],
        };
      },
    };
    const result = await redriveWithMoveTask(
      fake,
      { queueUrl: 'u', queueArn: 'arn:q', dlqArn: 'arn:dlq' },
      { wait: true, waitMs: 60_000, sleep: async () => {} },
    );
    expect(result).toMatchObject({ taskHandle: 'task-2', status: 'COMPLETED', moved: 4, toMove: 4 });
    expect(sent[0]).toEqual({
      name: 'StartMessageMoveTaskCommand',
      input: { SourceArn: 'arn:dlq', DestinationArn: 'arn:q' },
    });
    expect(sent.slice(1).every((s) => s.name === 'ListMessageMoveTasksCommand')).toBe(true);
    expect(polls).toBe(3);
  });

  it('maps stored credentials back to the CONNECT_* keys parseConnectSource reads (round trip for every kind)', () => {
    const cases: Array<Record<string, string>> = [
      { CONNECT_SOURCE: 'dexcomshare', CONNECT_SHARE_ACCOUNT_NAME: 'a@b.c', CONNECT_SHARE_PASSWORD: 'pw1' },
      { CONNECT_SOURCE: 'librelinkup', CONNECT_LINK_UP_USERNAME: 'a@b.c', CONNECT_LINK_UP_PASSWORD: 'pw2' },
      {
        CONNECT_SOURCE: 'glooko',
        CONNECT_GLOOKO_TIMEZONE: 'Europe/Berlin',
        CONNECT_GLOOKO_EMAIL: 'a@b.c',
        CONNECT_GLOOKO_PASSWORD: 'pw3',
      },
      {
        CONNECT_SOURCE: 'minimedcarelink',
        CONNECT_COUNTRY_CODE: 'gb',
        CONNECT_CARELINK_REFRESH_TOKEN: 'rt',
        CONNECT_CARELINK_CLIENT_ID: 'cid',
        CONNECT_CARELINK_TOKEN_URL: 'https://t.example/token',
      },
      {
        CONNECT_SOURCE: 'nightscout',
        CONNECT_SOURCE_ENDPOINT: 'https://src.example',
        CONNECT_SOURCE_API_SECRET: 'source-secret-123456',
        CONNECT_SOURCE_TOKEN: 'tok-1',
      },
    ];
    for (const values of cases) {
      const input = {
        ...values,
        CONNECT_NIGHTSCOUT_ENDPOINT: 'https://ns.example',
        CONNECT_API_SECRET: 'ns-secret-123456',
        CONNECT_NIGHTSCOUT_TOKEN: 'ns-token',
      };
      const parsed = parseConnectSource(input);
      const back = credentialsAsEnv(parsed.config.kind, parsed.credentials);
      const secretKeys = Object.keys(input).filter(isSecretKey);
      expect(Object.keys(back).sort(), values.CONNECT_SOURCE).toEqual(secretKeys.sort());
      expect(parseConnectSource({ ...input, ...back }).credentials).toEqual(parsed.credentials);
      for (const key of Object.keys(input).filter((k) => !isSecretKey(k))) expect(back[key]).toBeUndefined();
    }
  });

  it('parses secret input without quoting it in errors', () => {
    expect(parseConnectInput("export CONNECT_SHARE_PASSWORD='a=b'\n\n# c\nconnect_api_secret = x \n", 'stdin')).toEqual(
      { CONNECT_SHARE_PASSWORD: 'a=b', CONNECT_API_SECRET: 'x' },
    );
    expect(() => parseConnectInput(`${CANARY}\n`, 'stdin')).toThrow('line 1 of stdin is not KEY=VALUE');
    expect(() => parseConnectInput(`{"CONNECT_SHARE_PASSWORD": "${CANARY}",}`, 'stdin')).toThrow(
      /^stdin is not valid JSON$/,
    );
    try {
      parseConnectInput(`${CANARY}=x`, 'stdin');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(CANARY);
    }
  });
});
