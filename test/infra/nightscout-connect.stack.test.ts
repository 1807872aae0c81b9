import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  NightscoutConnectStack,
  type NightscoutConnectStackProps,
} from '../../infra/stacks/nightscout-connect.stack.js';
import { COMMUNITY_BATCHING_WINDOW_SECONDS } from '../../lib/config/deployment.config.js';
import { INFRA_FIXTURE_ENTRY_DIR, testContext } from '../helpers/infra-context.helper.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }>;

function synth(context: Record<string, unknown> = {}, props: NightscoutConnectStackProps = {}): Template {
  const app = new App({ context: testContext(context) });
  return Template.fromStack(new NightscoutConnectStack(app, 'NightscoutConnect', props));
}

const resources = (template: Template, type: string): Resources => template.findResources(type) as Resources;

/** Logical id of the function whose POWERTOOLS_SERVICE_NAME ends with `-<name>`. */
function functionOf(template: Template, name: string): { id: string; props: Record<string, any> } {
  const found = Object.entries(resources(template, 'AWS::Lambda::Function')).filter(([, r]) =>
    String(r.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME).endsWith(`-${name}`),
  );
  expect(found).toHaveLength(1);
  return { id: found[0][0], props: found[0][1].Properties ?? {} };
}

/** Every statement of the inline policies attached to a function's role. */
function statementsOf(template: Template, name: string): Array<Record<string, any>> {
  const roleId = functionOf(template, name).props.Role['Fn::GetAtt'][0];
  return Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties?.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties?.PolicyDocument.Statement);
}

const actionsOf = (statement: Record<string, any>): string[] =>
  ([] as string[]).concat(statement.Action ?? [], statement.NotAction ?? []);

/** Resolves the `Fn::Join` ARNs this stack builds into a readable string with `${...}` placeholders. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(flatten).join(v['Fn::Join'][0]);
  if (v.Ref) return `\${${v.Ref}}`;
  if (v['Fn::GetAtt']) return `\${${v['Fn::GetAtt'].join('.')}}`;
  return JSON.stringify(value);
}

describe('NightscoutConnectStack', () => {
  const template = synth();

  describe('table', () => {
    it('is on-demand with point-in-time recovery, TTL on `ttl` and the `due` index', () => {
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'dueShard', AttributeType: 'S' },
          { AttributeName: 'nextDueAt', AttributeType: 'N' },
        ]),
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'due',
            KeySchema: [
              { AttributeName: 'dueShard', KeyType: 'HASH' },
              { AttributeName: 'nextDueAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      });
    });

    it('is retained by default and honours tableRemovalPolicy (context and props)', () => {
      template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      synth({ tableRemovalPolicy: 'destroy' }).hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
      synth({}, { connect: { tableRemovalPolicy: RemovalPolicy.DESTROY } }).hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'Delete',
      });
    });
  });

  describe('queues', () => {
    const queues = resources(template, 'AWS::SQS::Queue');
    const byName = (name: string) => {
      const found = Object.entries(queues).find(([, q]) => q.Properties?.QueueName === `NightscoutConnect-${name}`);
      if (!found) throw new Error(`no queue ${name}`);
      return found;
    };

    it('has fetch and persist queues plus three dead-letter queues, all SQS-encrypted and SSL-only', () => {
      expect(Object.keys(queues)).toHaveLength(5);
      for (const q of Object.values(queues)) expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
      const policies = Object.values(resources(template, 'AWS::SQS::QueuePolicy'));
      const enforced = policies.flatMap((p) =>
        (p.Properties?.Queues as Array<{ Ref: string }>).filter(() =>
          (p.Properties?.PolicyDocument.Statement as Array<Record<string, any>>).some(
            (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
          ),
        ),
      );
      expect(new Set(enforced.map((r) => r.Ref))).toEqual(new Set(Object.keys(queues)));
    });

    for (const [name, consumer] of [
      ['fetch', 'fetch-frame'],
      ['persist', 'persist'],
    ] as const) {
      it(`${name}: DLQ after maxReceiveCount, DLQ only accepts this source, outlives it, visibility ≥ 6× timeout`, () => {
        const [, queue] = byName(name);
        const props = queue.Properties ?? {};
        expect(props.RedrivePolicy.maxReceiveCount).toBe(5);
        const dlqId = props.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0] as string;
        const dlq = queues[dlqId].Properties ?? {};

        expect(dlq.RedriveAllowPolicy.redrivePermission).toBe('byQueue');
        expect(dlq.RedriveAllowPolicy.sourceQueueArns).toHaveLength(1);
        expect(flatten(dlq.RedriveAllowPolicy.sourceQueueArns[0])).toMatch(new RegExp(`:NightscoutConnect-${name}$`));
        expect(props.MessageRetentionPeriod).toBe(4 * 24 * 3600);
        expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
        expect(dlq.MessageRetentionPeriod).toBeGreaterThan(props.MessageRetentionPeriod);

        const timeout = functionOf(template, consumer).props.Timeout as number;
        expect(props.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
      });
    }

    it('applies maxReceiveCount and derives visibility from a custom consumer timeout', () => {
      const custom = synth(
        { maxReceiveCount: '3' },
        { connect: { functionTimeout: { fetchFrame: Duration.seconds(90) } } },
      );
      custom.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: 'NightscoutConnect-fetch',
        VisibilityTimeout: 540,
        RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: Match.anyValue() },
      });
      expect(functionOf(custom, 'fetch-frame').props.Timeout).toBe(90);
    });
  });

  describe('tick schedule', () => {
    it('is an EventBridge Scheduler schedule every minute with retries and a dead-letter queue, not a rule', () => {
      template.resourceCountIs('AWS::Events::Rule', 0);
      template.resourceCountIs('AWS::Scheduler::Schedule', 1);
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        Target: {
          Arn: { 'Fn::GetAtt': [functionOf(template, 'tick').id, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ScheduleDeadLetterQueue'), 'Arn'] } },
        },
      });
    });
  });

  describe('functions', () => {
    it('are three Node 22 arm64 functions with JSON logs, own log groups and the documented environment', () => {
      template.resourceCountIs('AWS::Lambda::Function', 3);
      for (const name of ['tick', 'fetch-frame', 'persist']) {
        const { props } = functionOf(template, name);
        expect(props.Runtime).toBe('nodejs22.x');
        expect(props.Architectures).toEqual(['arm64']);
        expect(props.LoggingConfig.LogFormat).toBe('JSON');
        expect(props.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
        expect(Object.keys(props.Environment.Variables)).toEqual(
          expect.arrayContaining([
            'TABLE_NAME',
            'FETCH_QUEUE_URL',
            'PERSIST_QUEUE_URL',
            'CREDENTIALS_SECRET_PREFIX',
            'CREDENTIAL_SHARDS',
            'MAX_RECEIVE_COUNT',
            'POWERTOOLS_SERVICE_NAME',
            'POWERTOOLS_METRICS_NAMESPACE',
            'POWERTOOLS_LOG_LEVEL',
            'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
          ]),
        );
        expect(props.Environment.Variables).toMatchObject({
          CREDENTIALS_SECRET_PREFIX: 'NightscoutConnect/',
          CREDENTIAL_SHARDS: '1',
          MAX_RECEIVE_COUNT: '5',
          POWERTOOLS_METRICS_NAMESPACE: 'NightscoutConnect',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        });
      }
      expect(functionOf(template, 'tick').props.Timeout).toBe(55);
      expect(functionOf(template, 'fetch-frame').props.Timeout).toBe(60);
      expect(functionOf(template, 'persist').props.Timeout).toBe(60);
      template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 3);
    });

    it('consume their queues with partial batch responses and a concurrency cap', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
      for (const [name, queue] of [
        ['fetch-frame', 'Fetch'],
        ['persist', 'Persist'],
      ] as const) {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionName: { Ref: functionOf(template, name).id },
          EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Connect${queue}Queue`), 'Arn'] },
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 5 },
        });
      }
      const custom = synth({ fetchMaxConcurrency: 7, persistMaxConcurrency: '3' });
      custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: functionOf(custom, 'fetch-frame').id },
        ScalingConfig: { MaximumConcurrency: 7 },
      });
      custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: functionOf(custom, 'persist').id },
        ScalingConfig: { MaximumConcurrency: 3 },
      });
    });

    it('gather a batching window in community mode only, or as configured', () => {
      for (const [t, window] of [
        [template, undefined],
        [synth({ mode: 'community' }), COMMUNITY_BATCHING_WINDOW_SECONDS],
        [synth({ mode: 'community', batchingWindowSeconds: '0' }), undefined],
        [synth({ batchingWindowSeconds: '3' }), 3],
      ] as const) {
        const mappings = Object.values(resources(t, 'AWS::Lambda::EventSourceMapping'));
        expect(mappings).toHaveLength(2);
        for (const mapping of mappings) expect(mapping.Properties?.MaximumBatchingWindowInSeconds).toBe(window);
      }
      expect(COMMUNITY_BATCHING_WINDOW_SECONDS).toBeGreaterThan(0);
      expect(() => synth({ batchingWindowSeconds: '301' })).toThrow(
        /batchingWindowSeconds must be an integer from 0 to 300, got 301/,
      );
    });
  });

  describe('least privilege', () => {
    const community = synth({ mode: 'community', alarmEmail: 'ops@example.org' });

    it('has no wildcard actions and no managed policies anywhere', () => {
      for (const t of [template, community]) {
        const statements = [
          ...Object.values(resources(t, 'AWS::IAM::Policy')).flatMap((p) => p.Properties?.PolicyDocument.Statement),
          ...Object.values(resources(t, 'AWS::IAM::Role')).flatMap((r) =>
            (r.Properties?.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement),
          ),
        ];
        expect(statements.length).toBeGreaterThan(10);
        for (const s of statements) {
          for (const action of actionsOf(s)) {
            expect(action).not.toBe('*');
            expect(action).not.toMatch(/^[a-z0-9-]+:\*$/);
          }
          expect(s.NotAction).toBeUndefined();
        }
        for (const role of Object.values(resources(t, 'AWS::IAM::Role'))) {
          expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
        }
      }
    });

    it('gives the tick no Secrets Manager access and only SOURCE# items', () => {
      const statements = statementsOf(template, 'tick');
      expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
      expect(statements.flatMap(actionsOf).sort()).toEqual(
        [
          'dynamodb:BatchGetItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'sqs:SendMessage',
        ].sort(),
      );
      const query = statements.find((s) => actionsOf(s).includes('dynamodb:Query'));
      expect(flatten(query?.Resource)).toMatch(/\/index\/due$/);
      const items = statements.find((s) => actionsOf(s).includes('dynamodb:PutItem'));
      expect(items?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SOURCE#*'] } });
      const send = statements.find((s) => actionsOf(s).includes('sqs:SendMessage'));
      expect(send?.Resource['Fn::GetAtt'][0]).toMatch(/^ConnectFetchQueue/);
    });

    it("scopes fetch-frame: SOURCE#/SESSION# items, this deployment's credential secrets, persist queue", () => {
      const statements = statementsOf(template, 'fetch-frame');
      const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
      expect(secrets).toHaveLength(1);
      expect(actionsOf(secrets[0])).toEqual(['secretsmanager:GetSecretValue']);
      expect(flatten(secrets[0].Resource)).toBe(
        'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:NightscoutConnect/credentials/*',
      );
      const items = statements.find((s) => actionsOf(s).includes('dynamodb:PutItem'));
      expect(items?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SOURCE#*', 'SESSION#*'] },
      });
      for (const s of statements.filter((x) => actionsOf(x).some((a) => a.startsWith('dynamodb:')))) {
        expect(s.Condition).toBeDefined();
      }
      const send = statements.find((s) => actionsOf(s).includes('sqs:SendMessage'));
      expect(send?.Resource['Fn::GetAtt'][0]).toMatch(/^ConnectPersistQueue/);
      const backoff = statements.find((s) => s.Sid === 'BackOffFetchFrames');
      expect(backoff?.Resource['Fn::GetAtt'][0]).toMatch(/^ConnectFetchQueue/);
    });

    it('scopes persist: SOURCE# items, credential secrets, visibility on its own queue', () => {
      const statements = statementsOf(template, 'persist');
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
      expect(dynamo[0].Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SOURCE#*'] } });
      const secrets = statements.find((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
      expect(flatten(secrets?.Resource)).toMatch(/:secret:NightscoutConnect\/credentials\/\*$/);
      expect(statements.flatMap(actionsOf)).not.toContain('sqs:SendMessage');
      const backoff = statements.find((s) => s.Sid === 'BackOffPersistFrames');
      expect(backoff?.Resource['Fn::GetAtt'][0]).toMatch(/^ConnectPersistQueue/);
    });
  });

  describe('credential secrets', () => {
    const secretNames = (t: Template) =>
      Object.values(resources(t, 'AWS::SecretsManager::Secret')).map((s) => s.Properties?.Name as string);

    it('single mode creates one secret, <prefix>0, holding an empty shard', () => {
      expect(secretNames(template)).toEqual(['NightscoutConnect/credentials/0']);
      template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: '{"sources":{}}' });
    });

    it('community mode creates 10 shards by default, or credentialShards', () => {
      expect(secretNames(synth({ mode: 'community' })).sort()).toEqual(
        Array.from({ length: 10 }, (_, n) => `NightscoutConnect/credentials/${n}`).sort(),
      );
      const three = synth({ mode: 'community', credentialShards: '3' });
      expect(secretNames(three)).toHaveLength(3);
      expect(functionOf(three, 'tick').props.Environment.Variables.CREDENTIAL_SHARDS).toBe('3');
    });
  });

  describe('observability', () => {
    it('has one dashboard with the pipeline, freshness percentiles, DLQ and Lambda widgets', () => {
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'NightscoutConnect-Connect' });
      const body = JSON.stringify(
        Object.values(resources(template, 'AWS::CloudWatch::Dashboard'))[0].Properties?.DashboardBody,
      );
      for (const needle of [
        'SourcesDue',
        'SourcesAdvanced',
        'FramesFetched',
        'FrameFailed_retryable',
        'FrameFailed_permanent',
        'FrameFailed_authRejected',
        'FrameFailed_lockedOut',
        'ReadingsWritten',
        'FreshnessLagMs',
        '\\"p50\\"',
        '\\"p95\\"',
        'Logins',
        'AuthRejected',
        'ApproximateNumberOfMessagesVisible',
        'ApproximateAgeOfOldestMessage',
        'Errors',
        'Throttles',
        'Duration',
      ]) {
        expect(body).toContain(needle);
      }
      expect(body).not.toMatch(/sourceId|SOURCE#/);
    });

    it('alarms on DLQs, auth rejections, freshness, tick errors and missed ticks', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Namespace: 'AWS/SQS',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        },
        3,
      );
      for (const dlq of ['Fetch', 'Persist', 'Schedule']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Connect${dlq}DeadLetterQueue`), 'QueueName'] },
            },
          ],
        });
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'NightscoutConnect',
        MetricName: 'AuthRejected',
        Dimensions: [{ Name: 'service', Value: 'NightscoutConnect-fetch-frame' }],
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'FreshnessLagMs',
        ExtendedStatistic: 'p95',
        Threshold: 900_000,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([
          Match.objectLike({
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'TickErrors' }) }),
          }),
        ]),
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Invocations',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionOf(template, 'tick').id } }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      });
      synth({ freshnessAlarmThresholdSeconds: '600' }).hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'FreshnessLagMs',
        Threshold: 600_000,
      });
    });

    it('has no topic without alarmEmail, and an email subscription that every alarm notifies with it', () => {
      template.resourceCountIs('AWS::SNS::Topic', 0);
      const withEmail = synth({ alarmEmail: 'ops@example.org' });
      withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org' });
      const topicId = Object.keys(resources(withEmail, 'AWS::SNS::Topic'))[0];
      withEmail.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      withEmail.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: topicId }] }, 7);
    });
  });

  describe('outputs', () => {
    it('tell the CLI where the deployment is and link the dashboard, with no secret in them', () => {
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const env = JSON.stringify(outputs.CliEnvironment.Value);
      for (const key of [
        'TABLE_NAME=',
        'CREDENTIALS_SECRET_PREFIX=NightscoutConnect/',
        'CREDENTIAL_SHARDS=1',
        'FETCH_QUEUE_URL=',
        'PERSIST_QUEUE_URL=',
        'AWS_REGION=',
      ]) {
        expect(env).toContain(key);
      }
      expect(env).toMatch(/"Ref":"ConnectTable[0-9A-F]+"/);
      expect(JSON.stringify(synth({ mode: 'community' }).toJSON().Outputs.CliEnvironment.Value)).toContain(
        'CREDENTIAL_SHARDS=10',
      );
      const dashboard = JSON.stringify(outputs.DashboardUrl.Value);
      expect(dashboard).toContain('#dashboards/dashboard/');
      expect(dashboard).toMatch(/"Ref":"ConnectMonitoringDashboard[0-9A-F]+"/);
      expect(JSON.stringify(outputs)).not.toMatch(/secretsmanager|SecretString|resolve:/i);
    });
  });

  describe('props validation', () => {
    it('reports every invalid prop at once', () => {
      expect(() =>
        synth(
          {},
          {
            connect: {
              mode: 'single',
              credentialShards: 4,
              fetchMaxConcurrency: 1,
              maxReceiveCount: 0,
              functionTimeout: { tick: Duration.seconds(60) },
            },
          },
        ),
      ).toThrow(
        /credentialShards must be 1 in single mode[\s\S]*maxReceiveCount[\s\S]*fetchMaxConcurrency[\s\S]*tick must be under 60/,
      );
    });

    it('rejects malformed context values', () => {
      expect(() => synth({ maxReceiveCount: 'five' })).toThrow(/maxReceiveCount/);
      expect(() => synth({ tableRemovalPolicy: 'keep' })).toThrow(/tableRemovalPolicy/);
      expect(() => synth({ mode: 'family' })).toThrow(/mode must be/);
    });
  });
});

describe('bundling', () => {
  it('bundles ESM handlers with the createRequire banner, for real', () => {
    // Prepare: no bundling-stacks override, so esbuild runs (locally; stand-in handlers keep it fast).
    const outdir = mkdtempSync(path.join(tmpdir(), 'nsc-cdk-'));
    const app = new App({ outdir, context: { entryDir: INFRA_FIXTURE_ENTRY_DIR } });
    new NightscoutConnectStack(app, 'NightscoutConnect');

    // Act
    app.synth();

    // Assess
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const files = readdirSync(path.join(outdir, asset)).sort();
      expect(files).toEqual(['index.mjs', 'index.mjs.map']);
      expect(readFileSync(path.join(outdir, asset, 'index.mjs'), 'utf8')).toMatch(/^import \{ createRequire as /);
    }
  });
});
