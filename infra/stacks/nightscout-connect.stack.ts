import * as path from 'node:path';
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, Node } from 'constructs';
import {
  NightscoutConnect,
  type NightscoutConnectMode,
  type NightscoutConnectProps,
} from '../constructs/nightscout-connect.construct.js';

export interface NightscoutConnectStackProps extends StackProps {
  /**
   * Props for the construct. Anything set here wins over CDK context (`-c key=value` or cdk.json).
   * @default - read from context, see `connectPropsFromContext`
   */
  readonly connect?: NightscoutConnectProps;
}

/**
 * One Nightscout Connect deployment. Environment-agnostic (no account or region lookups), so `cdk synth` runs
 * offline and the same template deploys anywhere.
 */
export class NightscoutConnectStack extends Stack {
  readonly connect: NightscoutConnect;

  constructor(scope: Construct, id: string, props: NightscoutConnectStackProps = {}) {
    super(scope, id, {
      description: 'Nightscout Connect: vendor cloud → Nightscout sync (tick, fetch, persist)',
      ...props,
    });
    this.connect = new NightscoutConnect(this, 'Connect', {
      ...connectPropsFromContext(this.node),
      ...props.connect,
    });

    // What the management CLI needs to find this deployment (no secret: names and URLs only), in the form
    // `export $(… --output text)` takes, and where the dashboard is.
    const c = this.connect;
    new CfnOutput(this, 'CliEnvironment', {
      description: 'Environment for `npx nightscout-connect` against this stack',
      value: Fn.join('', [
        'TABLE_NAME=',
        c.table.tableName,
        ` CREDENTIALS_SECRET_PREFIX=${c.secretNamePrefix}`,
        ` CREDENTIAL_SHARDS=${c.credentialSecrets.length}`,
        ' FETCH_QUEUE_URL=',
        c.fetchQueue.queueUrl,
        ' PERSIST_QUEUE_URL=',
        c.persistQueue.queueUrl,
        ' AWS_REGION=',
        this.region,
      ]),
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'The CloudWatch dashboard of this deployment',
      value: Fn.join('', [
        'https://',
        this.region,
        '.console.aws.amazon.com/cloudwatch/home?region=',
        this.region,
        '#dashboards/dashboard/',
        c.monitoring.dashboard.dashboardName,
      ]),
    });
  }
}

/**
 * Construct props from context keys: `mode`, `alarmEmail`, `credentialShards`, `logRetentionDays`, `logLevel`,
 * `tableRemovalPolicy` (`retain`|`destroy`|`snapshot`), `maxReceiveCount`, `fetchMaxConcurrency`,
 * `persistMaxConcurrency`, `batchingWindowSeconds`, `freshnessAlarmThresholdSeconds`, `tickTimeoutSeconds`, `fetchTimeoutSeconds`,
 * `persistTimeoutSeconds`, `entryDir` (where `functions/` lives, relative to the working directory). `-c` values arrive as strings, cdk.json values as JSON, so both are accepted.
 * Empty strings count as unset, which lets cdk.json carry `"alarmEmail": ""` as a visible default.
 */
export function connectPropsFromContext(node: Node): NightscoutConnectProps {
  const str = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    return String(value);
  };
  const num = (key: string): number | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new Error(`Context '${key}' must be a number, got '${value}'`);
    return parsed;
  };
  const seconds = (key: string) => {
    const value = num(key);
    return value === undefined ? undefined : Duration.seconds(value);
  };
  const retentionDays = num('logRetentionDays');
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    throw new Error(
      `Context 'logRetentionDays' must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, …), got ${retentionDays}`,
    );
  }
  const removal = str('tableRemovalPolicy');
  const removalPolicies: Record<string, RemovalPolicy> = {
    retain: RemovalPolicy.RETAIN,
    destroy: RemovalPolicy.DESTROY,
    snapshot: RemovalPolicy.SNAPSHOT,
  };
  if (removal !== undefined && !(removal.toLowerCase() in removalPolicies)) {
    throw new Error(`Context 'tableRemovalPolicy' must be retain, destroy or snapshot, got '${removal}'`);
  }
  const logLevel = str('logLevel')?.toUpperCase();
  if (logLevel !== undefined && !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel)) {
    throw new Error(`Context 'logLevel' must be DEBUG, INFO, WARN or ERROR, got '${logLevel}'`);
  }

  return dropUndefined({
    mode: str('mode') as NightscoutConnectMode | undefined,
    alarmEmail: str('alarmEmail'),
    credentialShards: num('credentialShards'),
    logRetention: retentionDays as logs.RetentionDays | undefined,
    logLevel: logLevel as NightscoutConnectProps['logLevel'],
    tableRemovalPolicy: removal === undefined ? undefined : removalPolicies[removal.toLowerCase()],
    maxReceiveCount: num('maxReceiveCount'),
    fetchMaxConcurrency: num('fetchMaxConcurrency'),
    persistMaxConcurrency: num('persistMaxConcurrency'),
    batchingWindowSeconds: num('batchingWindowSeconds'),
    freshnessAlarmThresholdSeconds: num('freshnessAlarmThresholdSeconds'),
    entryDir: str('entryDir') === undefined ? undefined : path.resolve(str('entryDir') as string),
    functionTimeout: dropUndefined({
      tick: seconds('tickTimeoutSeconds'),
      fetchFrame: seconds('fetchTimeoutSeconds'),
      persist: seconds('persistTimeoutSeconds'),
    }),
  });
}

/** So that `{ ...fromContext, ...explicit }` never overwrites a value with `undefined`. */
function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
