import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Arn,
  ArnFormat,
  AssetHashType,
  DockerImage,
  Duration,
  type ILocalBundling,
  RemovalPolicy,
  SecretValue,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { buildLambdaBundleScript } from '../../lib/config/bundling.build.js';
import { LAMBDA_NODE_OPTIONS, type LambdaFunctionName } from '../../lib/config/bundling.config.js';
import { COMMUNITY_BATCHING_WINDOW_SECONDS } from '../../lib/config/deployment.config.js';
import { METRICS_NAMESPACE, NightscoutConnectMonitoring } from './nightscout-connect-monitoring.construct.js';

/** `single`: one person, one credential secret. `community`: many sources spread over `credentialShards` secrets. */
export type NightscoutConnectMode = 'single' | 'community';

export type NightscoutConnectLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface NightscoutConnectFunctionTimeouts {
  /**
   * The tick must finish before the next one starts a minute later.
   * @default Duration.seconds(55)
   */
  readonly tick?: Duration;
  /**
   * Also sets the fetch queue's visibility timeout (6× this).
   * @default Duration.seconds(60)
   */
  readonly fetchFrame?: Duration;
  /**
   * Also sets the persist queue's visibility timeout (6× this).
   * @default Duration.seconds(60)
   */
  readonly persist?: Duration;
}

export interface NightscoutConnectProps {
  /**
   * `single` creates one credential secret; `community` creates `credentialShards` of them.
   * @default 'single'
   */
  readonly mode?: NightscoutConnectMode;
  /**
   * Number of credential secrets in `community` mode. Each secret holds a JSON map of many sources'
   * credentials (sources are assigned to a shard by hash), so the $0.40/month secret price is shared:
   * 10 shards × $0.40 = $4/month, which for 1,000 sources is $0.004 per source-month.
   * Must be 1 (or unset) in `single` mode.
   * @default 1 in `single` mode, 10 in `community` mode
   */
  readonly credentialShards?: number;
  /**
   * Email address subscribed to an SNS topic that every alarm notifies (alarm and OK).
   * @default - no topic; alarms only show on the dashboard and in the CloudWatch console
   */
  readonly alarmEmail?: string;
  /**
   * Retention of each function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * `POWERTOOLS_LOG_LEVEL` for all three functions.
   * @default 'INFO'
   */
  readonly logLevel?: NightscoutConnectLogLevel;
  /**
   * What happens to the table (and the credential secrets, which the table's sources refer to) when the
   * stack is deleted or the resource replaced.
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * SQS receives before a fetch or persist message moves to its dead-letter queue (1–1000).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Upper bound on concurrent fetch-frame invocations from its queue (2–1000); protects vendor APIs.
   * @default 5
   */
  readonly fetchMaxConcurrency?: number;
  /**
   * Upper bound on concurrent persist invocations from its queue (2–1000); protects Nightscout sites.
   * @default 5
   */
  readonly persistMaxConcurrency?: number;
  /**
   * How long (0–300 s) each queue's event source mapping gathers messages before it invokes the function
   * (`MaximumBatchingWindowInSeconds`). Sources' sensors each keep their own 5-minute phase, so without a window a
   * community's frames arrive one or two per receive; the window trades a few seconds of freshness per queue hop for
   * several times fewer SQS requests and Lambda invocations (docs/benchmark.md measures both). One person's frames
   * never share a window, so single mode gains nothing from waiting.
   * @default 0 in `single` mode, 1 (`COMMUNITY_BATCHING_WINDOW_SECONDS`) in `community` mode
   */
  readonly batchingWindowSeconds?: number;
  /**
   * The freshness alarm fires when the p95 lag between a reading's timestamp and its write to Nightscout
   * stays above this for 15 minutes.
   * @default 900
   */
  readonly freshnessAlarmThresholdSeconds?: number;
  /**
   * Per-function timeouts.
   * @default - tick 55 s, fetch-frame 60 s, persist 60 s
   */
  readonly functionTimeout?: NightscoutConnectFunctionTimeouts;
  /**
   * Memory of each function. A 128 MB function gets a small CPU share, which makes cold starts of the
   * bundled SDK slow; at this duty cycle the extra GB-seconds cost well under a cent per source-month.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Directory that contains `functions/<name>/handler.ts`. The nearest directory at or above it with a lock
   * file is the bundling project root (esbuild runs there and resolves packages from its node_modules).
   * @default - the repository root, resolved from this file
   */
  readonly entryDir?: string;
  /**
   * Name prefix of the credential secrets; shard `n` is named `<prefix><n>`. Functions get
   * `secretsmanager:GetSecretValue` only on secrets whose names start with it.
   * @default `${stackName}/` (secrets are named `<prefix>credentials/<shard>`, as the credential store reads them)
   */
  readonly secretNamePrefix?: string;
}

/** The shape lib/adapters/aws/secrets-manager-credential.store.ts reads, with no sources yet. */
const EMPTY_CREDENTIAL_SHARD = JSON.stringify({ sources: {} });

/** The repository root: this file lives in <root>/infra/constructs/. Bundling alias targets live under it. */
const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Default directory holding `functions/<name>/handler.ts`: the repository root. */
const DEFAULT_ENTRY_DIR = REPOSITORY_ROOT;

interface ResolvedProps {
  mode: NightscoutConnectMode;
  credentialShards: number;
  logRetention: logs.RetentionDays;
  logLevel: NightscoutConnectLogLevel;
  tableRemovalPolicy: RemovalPolicy;
  maxReceiveCount: number;
  fetchMaxConcurrency: number;
  persistMaxConcurrency: number;
  batchingWindowSeconds: number;
  freshnessAlarmThresholdSeconds: number;
  timeouts: Required<NightscoutConnectFunctionTimeouts>;
  memorySize: number;
  entryDir: string;
  secretNamePrefix: string;
}

/**
 * The whole sync pipeline for one deployment: the minute tick (EventBridge Scheduler → tick Lambda), the
 * fetch and persist SQS queues with their consumers and dead-letter queues, the single DynamoDB table, the
 * credential secrets, a dashboard and alarms. Each function gets its own role with explicit statements only.
 * Throws at construction if props are out of range (all problems reported at once).
 */
export class NightscoutConnect extends Construct {
  readonly table: dynamodb.TableV2;
  readonly fetchQueue: sqs.Queue;
  readonly fetchDeadLetterQueue: sqs.Queue;
  readonly persistQueue: sqs.Queue;
  readonly persistDeadLetterQueue: sqs.Queue;
  /** Ticks the scheduler could not deliver after its retries. */
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly tickFunction: nodejs.NodejsFunction;
  readonly fetchFrameFunction: nodejs.NodejsFunction;
  readonly persistFunction: nodejs.NodejsFunction;
  readonly schedule: scheduler.Schedule;
  readonly credentialSecrets: secretsmanager.Secret[];
  readonly secretNamePrefix: string;
  /** Dashboard, alarms and the optional alarm topic. */
  readonly monitoring: NightscoutConnectMonitoring;

  constructor(scope: Construct, id: string, props: NightscoutConnectProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const p = resolveProps(props, stack.stackName);
    this.secretNamePrefix = p.secretNamePrefix;

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'ttl',
      removalPolicy: p.tableRemovalPolicy,
      globalSecondaryIndexes: [
        {
          // Sparse: only schedulable sources carry dueShard/nextDueAt; the shard spreads the hot "due" key.
          // KEYS_ONLY: an index write is then 1 WRU whatever the item size, and saves that keep nextDueAt cost the
          // index nothing; the tick fetches the items with BatchGetItem.
          indexName: 'due',
          partitionKey: { name: 'dueShard', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'nextDueAt', type: dynamodb.AttributeType.NUMBER },
          projectionType: dynamodb.ProjectionType.KEYS_ONLY,
        },
      ],
    });

    this.credentialSecrets = Array.from({ length: p.credentialShards }, (_, n) => {
      const secret = new secretsmanager.Secret(this, `CredentialShard${n}`, {
        secretName: `${p.secretNamePrefix}credentials/${n}`,
        description: `Nightscout Connect credentials, shard ${n} of ${p.credentialShards}: {"sources": {sourceId: credentials}}`,
        // An empty shard in the credential store's format, not a generated password: the CLI fills it. The value
        // never changes in the template, so CloudFormation updates never overwrite what the CLI wrote.
        secretStringValue: SecretValue.unsafePlainText(EMPTY_CREDENTIAL_SHARD),
        removalPolicy: p.tableRemovalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Holds vendor and Nightscout passwords chosen by people; AWS cannot rotate them. Updated by the CLI.',
      });
      return secret;
    });

    // Source queues have fixed names because each DLQ's redrive-allow policy must name its source queue's ARN,
    // and a GetAtt would make a dependency cycle (the source's redrive policy already references the DLQ).
    const fetch = this.queueWithDlq('Fetch', `${stack.stackName}-fetch`, p.timeouts.fetchFrame, p.maxReceiveCount);
    this.fetchQueue = fetch.queue;
    this.fetchDeadLetterQueue = fetch.dlq;
    const persist = this.queueWithDlq('Persist', `${stack.stackName}-persist`, p.timeouts.persist, p.maxReceiveCount);
    this.persistQueue = persist.queue;
    this.persistDeadLetterQueue = persist.dlq;

    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the scheduler target dead-letter queue; nothing consumes it automatically.',
    });

    const sharedEnvironment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      FETCH_QUEUE_URL: this.fetchQueue.queueUrl,
      PERSIST_QUEUE_URL: this.persistQueue.queueUrl,
      CREDENTIALS_SECRET_PREFIX: p.secretNamePrefix,
      CREDENTIAL_SHARDS: String(p.credentialShards),
      MAX_RECEIVE_COUNT: String(p.maxReceiveCount),
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: p.logLevel,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Bundles ship source maps; without this flag stack traces point into minified code.
      NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
    };
    const services = {
      tick: `${stack.stackName}-tick`,
      fetchFrame: `${stack.stackName}-fetch-frame`,
      persist: `${stack.stackName}-persist`,
    };
    const projectRoot = findProjectRoot(p.entryDir) ?? p.entryDir;
    const makeFunction = (logicalName: string, fn: LambdaFunctionName, service: string, timeout: Duration) =>
      this.makeFunction(logicalName, {
        code: lambdaBundle(fn, p.entryDir, projectRoot),
        timeout,
        memorySize: p.memorySize,
        logRetention: p.logRetention,
        environment: { ...sharedEnvironment, POWERTOOLS_SERVICE_NAME: service },
      });
    this.tickFunction = makeFunction('Tick', 'tick', services.tick, p.timeouts.tick);
    this.fetchFrameFunction = makeFunction('FetchFrame', 'fetch-frame', services.fetchFrame, p.timeouts.fetchFrame);
    this.persistFunction = makeFunction('Persist', 'persist', services.persist, p.timeouts.persist);

    this.grantLeastPrivilege();

    // CloudFormation leaves MaximumBatchingWindowInSeconds out at 0 (the AWS default for batch size 10).
    const batching =
      p.batchingWindowSeconds > 0 ? { maxBatchingWindow: Duration.seconds(p.batchingWindowSeconds) } : {};
    this.fetchFrameFunction.addEventSource(
      new SqsEventSource(this.fetchQueue, {
        reportBatchItemFailures: true,
        maxConcurrency: p.fetchMaxConcurrency,
        ...batching,
      }),
    );
    this.persistFunction.addEventSource(
      new SqsEventSource(this.persistQueue, {
        reportBatchItemFailures: true,
        maxConcurrency: p.persistMaxConcurrency,
        ...batching,
      }),
    );

    // Our own role (the target would otherwise create one at stack scope), limited to this account's default
    // schedule group so no other principal can make the scheduler invoke the tick (confused deputy).
    const scheduleRole = new iam.Role(this, 'TickScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
      description: 'Nightscout Connect scheduler: invoke the tick, dead-letter undeliverable ticks',
    });
    this.schedule = new scheduler.Schedule(this, 'TickSchedule', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      description: 'Nightscout Connect minute tick',
      target: new schedulerTargets.LambdaInvoke(this.tickFunction, {
        // The scheduled time and execution id let the tick log and de-duplicate at-least-once deliveries.
        input: scheduler.ScheduleTargetInput.fromObject({
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
          executionId: scheduler.ContextAttribute.executionId,
        }),
        // The next tick picks up whatever a lost one would have done, so retrying for long only duplicates work.
        retryAttempts: 2,
        maxEventAge: Duration.minutes(2),
        deadLetterQueue: this.scheduleDeadLetterQueue,
        role: scheduleRole,
      }),
    });
    const tickLogicalId = stack.resolve(stack.getLogicalId(this.tickFunction.node.defaultChild as lambda.CfnFunction));
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${tickLogicalId}.Arn>:*]`,
      reason: 'LambdaInvoke grants invoke on the tick function and its versions/aliases (`:*`), nothing else.',
    });

    this.monitoring = new NightscoutConnectMonitoring(this, 'Monitoring', {
      dashboardName: `${stack.stackName}-${this.node.id}`,
      services,
      functions: { tick: this.tickFunction, fetchFrame: this.fetchFrameFunction, persist: this.persistFunction },
      deadLetterQueues: {
        fetch: this.fetchDeadLetterQueue,
        persist: this.persistDeadLetterQueue,
        schedule: this.scheduleDeadLetterQueue,
      },
      freshnessAlarmThresholdSeconds: p.freshnessAlarmThresholdSeconds,
      alarmEmail: props.alarmEmail,
    });
  }

  /** A source queue and its DLQ, wired both ways (redrive policy and a redrive-allow policy naming only the source). */
  private queueWithDlq(
    id: string,
    queueName: string,
    consumerTimeout: Duration,
    maxReceiveCount: number,
  ): { queue: sqs.Queue; dlq: sqs.Queue } {
    const sourceArn = Stack.of(this).formatArn({
      service: 'sqs',
      resource: queueName,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    const dlq = new sqs.Queue(this, `${id}DeadLetterQueue`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // In a standard queue expiry counts from the original enqueue, so the DLQ must outlive its source.
      retentionPeriod: Duration.days(14),
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(this, `${id}QueueRef`, sourceArn)],
      },
    });
    Validations.of(dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is the dead-letter queue of ${queueName}; it is redriven by hand after investigation.`,
    });
    const queue = new sqs.Queue(this, `${id}Queue`, {
      queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      // AWS's guidance for Lambda consumers: at least 6× the function timeout, so retries of a throttled
      // batch do not make the message visible again while it is still being processed.
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: dlq, maxReceiveCount },
    });
    return { queue, dlq };
  }

  private makeFunction(
    id: string,
    options: {
      code: lambda.Code;
      timeout: Duration;
      memorySize: number;
      logRetention: logs.RetentionDays;
      environment: Record<string, string>;
    },
  ): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: options.logRetention,
      // Logs are operational data with a retention already; keeping them after the stack is gone only costs.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role with inline statements instead of AWSLambdaBasicExecutionRole: that managed policy allows
    // writing to every log group in the account.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Nightscout Connect ${id} function`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new nodejs.NodejsFunction(this, id, {
      // Bundled by lib/config/bundling.build.ts (see lambdaBundle), not by NodejsFunction's esbuild command line,
      // which cannot replace a module inside a package.
      code: options.code,
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: options.timeout,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: options.environment,
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x, the runtime the bundle targets and the project tests; moved deliberately.',
    });
    return fn;
  }

  /** Explicit statements only; the SQS event sources add their own receive/delete grants on their queue. */
  private grantLeastPrivilege(): void {
    const tableArn = this.table.tableArn;
    const dueIndexArn = `${tableArn}/index/due`;
    const leadingKeys = (...prefixes: string[]) => ({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
    });
    const credentialSecretsArn = Arn.format(
      {
        service: 'secretsmanager',
        resource: 'secret',
        // Secrets Manager appends a random 6-character suffix to every secret ARN.
        resourceName: `${this.secretNamePrefix}credentials/*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      Stack.of(this),
    );

    // tick: reads the due index and advances source snapshots; it never sees credentials or sessions.
    const tick = this.tickFunction;
    tick.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'QueryDueIndex', actions: ['dynamodb:Query'], resources: [dueIndexArn] }),
    );
    tick.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteSourceItems',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
        resources: [tableArn],
        conditions: leadingKeys('SOURCE#'),
      }),
    );
    tick.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SendFetchFrames',
        actions: ['sqs:SendMessage'],
        resources: [this.fetchQueue.queueArn],
      }),
    );

    // fetch-frame: logs in to vendors (credentials, session items) and forwards fetched frames to persist.
    const fetchFrame = this.fetchFrameFunction;
    fetchFrame.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteSourceAndSessionItems',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [tableArn],
        conditions: leadingKeys('SOURCE#', 'SESSION#'),
      }),
    );
    fetchFrame.addToRolePolicy(
      new iam.PolicyStatement({
        // SessionStore.clear() after a vendor rejects a session.
        sid: 'ClearSessionItems',
        actions: ['dynamodb:DeleteItem'],
        resources: [tableArn],
        conditions: leadingKeys('SESSION#'),
      }),
    );
    fetchFrame.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [credentialSecretsArn],
      }),
    );
    fetchFrame.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SendPersistFrames',
        actions: ['sqs:SendMessage'],
        resources: [this.persistQueue.queueArn],
      }),
    );
    fetchFrame.addToRolePolicy(
      new iam.PolicyStatement({
        // Exponential backoff: push a failed message's next delivery out before reporting it failed.
        sid: 'BackOffFetchFrames',
        actions: ['sqs:ChangeMessageVisibility'],
        resources: [this.fetchQueue.queueArn],
      }),
    );

    // persist: needs the Nightscout API secret (in the credential shard) and the source's cursor.
    const persist = this.persistFunction;
    persist.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteSourceItems',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [tableArn],
        conditions: leadingKeys('SOURCE#'),
      }),
    );
    persist.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [credentialSecretsArn],
      }),
    );
    persist.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'BackOffPersistFrames',
        actions: ['sqs:ChangeMessageVisibility'],
        resources: [this.persistQueue.queueArn],
      }),
    );

    for (const fn of [fetchFrame, persist]) {
      const policy = fn.role?.node.tryFindChild('DefaultPolicy');
      if (policy) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.secretNamePrefix}credentials/*]`,
          reason:
            'Secret ARNs end in a random suffix; the wildcard only spans the credential secrets of this deployment.',
        });
      }
    }
  }
}

/**
 * A function's code: `index.mjs` (+ map) built by lib/config/bundling.build.ts from lib/config/bundling.config.ts, the
 * build the bundle bench measures. The asset hash is the output's, as NodejsFunction's is; when a synth skips bundling
 * (`aws:cdk:bundling-stacks`), nothing runs. Docker is never used: a failed build fails the synth.
 */
function lambdaBundle(fn: LambdaFunctionName, entryDir: string, projectRoot: string): lambda.Code {
  return lambda.Code.fromAsset(projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type; unused, since local bundling always answers (or throws).
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: new LocalLambdaBundling(fn, entryDir, projectRoot),
    },
  });
}

/**
 * Runs the build in a child node process: CDK bundles synchronously, and esbuild plugins need esbuild's asynchronous
 * API. The fields are data on purpose: CDK caches bundling per JSON of its options, so they keep the three functions
 * (and other entry directories) apart.
 */
class LocalLambdaBundling implements ILocalBundling {
  constructor(
    readonly fn: LambdaFunctionName,
    readonly entryDir: string,
    readonly projectRoot: string,
  ) {}

  tryBundle(outputDir: string): boolean {
    const run = spawnSync(
      process.execPath,
      buildLambdaBundleScript({
        fn: this.fn,
        outDir: outputDir,
        entryDir: this.entryDir,
        workingDir: this.projectRoot,
      }),
      { cwd: REPOSITORY_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (run.status !== 0)
      throw new Error(`bundling ${this.fn} failed (${run.error?.message ?? `exit ${run.status}`}):\n${run.stderr}`);
    return true;
  }
}

const LOCK_FILES = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb'];

/** The nearest directory at or above `dir` with a lock file: the project whose node_modules the bundles use. */
function findProjectRoot(dir: string): string | undefined {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (LOCK_FILES.some((name) => existsSync(path.join(current, name)))) return current;
    if (path.dirname(current) === current) return undefined;
  }
}

/** Applies defaults and checks ranges, reporting every problem in one error. */
function resolveProps(props: NightscoutConnectProps, stackName: string): ResolvedProps {
  const mode = props.mode ?? 'single';
  const resolved: ResolvedProps = {
    mode,
    credentialShards: props.credentialShards ?? (mode === 'community' ? 10 : 1),
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    logLevel: props.logLevel ?? 'INFO',
    tableRemovalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    maxReceiveCount: props.maxReceiveCount ?? 5,
    fetchMaxConcurrency: props.fetchMaxConcurrency ?? 5,
    persistMaxConcurrency: props.persistMaxConcurrency ?? 5,
    batchingWindowSeconds:
      props.batchingWindowSeconds ?? (mode === 'community' ? COMMUNITY_BATCHING_WINDOW_SECONDS : 0),
    freshnessAlarmThresholdSeconds: props.freshnessAlarmThresholdSeconds ?? 900,
    timeouts: {
      tick: props.functionTimeout?.tick ?? Duration.seconds(55),
      fetchFrame: props.functionTimeout?.fetchFrame ?? Duration.seconds(60),
      persist: props.functionTimeout?.persist ?? Duration.seconds(60),
    },
    memorySize: props.memorySize ?? 256,
    entryDir: props.entryDir ?? DEFAULT_ENTRY_DIR,
    secretNamePrefix: props.secretNamePrefix ?? `${stackName}/`,
  };

  const errors: string[] = [];
  const intIn = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      errors.push(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
  };
  if (mode !== 'single' && mode !== 'community') errors.push(`mode must be 'single' or 'community', got '${mode}'`);
  if (mode === 'single' && resolved.credentialShards !== 1) {
    errors.push(`credentialShards must be 1 in single mode, got ${resolved.credentialShards}`);
  }
  // 50 shards cover 50 × 64 KB of credentials, far beyond one community; more only adds $0.40 each.
  intIn('credentialShards', resolved.credentialShards, 1, 50);
  intIn('maxReceiveCount', resolved.maxReceiveCount, 1, 1000);
  intIn('fetchMaxConcurrency', resolved.fetchMaxConcurrency, 2, 1000);
  intIn('persistMaxConcurrency', resolved.persistMaxConcurrency, 2, 1000);
  intIn('batchingWindowSeconds', resolved.batchingWindowSeconds, 0, 300);
  if (!(resolved.freshnessAlarmThresholdSeconds > 0)) {
    errors.push(`freshnessAlarmThresholdSeconds must be positive, got ${resolved.freshnessAlarmThresholdSeconds}`);
  }
  if (resolved.timeouts.tick.toSeconds() >= 60) {
    errors.push('functionTimeout.tick must be under 60 seconds, or ticks overlap');
  }
  // SQS caps the visibility timeout at 12 h, and it is 6× the consumer timeout; Lambda caps timeouts at 15 min.
  for (const [name, timeout] of [
    ['fetchFrame', resolved.timeouts.fetchFrame],
    ['persist', resolved.timeouts.persist],
  ] as const) {
    if (timeout.toSeconds() > 900) errors.push(`functionTimeout.${name} must be at most 900 seconds`);
  }
  if (!/^[A-Za-z0-9/_+=.@-]+$/.test(resolved.secretNamePrefix)) {
    errors.push(`secretNamePrefix has characters Secrets Manager does not allow: '${resolved.secretNamePrefix}'`);
  }
  if (errors.length > 0) throw new Error(`Invalid NightscoutConnect props:\n- ${errors.join('\n- ')}`);
  return resolved;
}
