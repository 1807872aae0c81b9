import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The EMF namespace the functions write to (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'NightscoutConnect';

export interface NightscoutConnectServices {
  readonly tick: string;
  readonly fetchFrame: string;
  readonly persist: string;
}

export interface NightscoutConnectMonitoringProps {
  /** Dashboard name; characters CloudWatch does not allow become '-'. */
  readonly dashboardName: string;
  /** `POWERTOOLS_SERVICE_NAME` of each function: the only dimension of the application metrics. */
  readonly services: NightscoutConnectServices;
  readonly functions: {
    readonly tick: lambda.IFunction;
    readonly fetchFrame: lambda.IFunction;
    readonly persist: lambda.IFunction;
  };
  readonly deadLetterQueues: {
    readonly fetch: sqs.IQueue;
    readonly persist: sqs.IQueue;
    readonly schedule: sqs.IQueue;
  };
  /** p95 freshness lag, in seconds, above which the freshness alarm fires. */
  readonly freshnessAlarmThresholdSeconds: number;
  /**
   * Email address subscribed to an SNS topic that every alarm notifies (alarm and OK).
   * @default - no topic; alarms only show on the dashboard and in the CloudWatch console
   */
  readonly alarmEmail?: string;
}

/**
 * Dashboard and alarms of one Nightscout Connect deployment. Alarm descriptions point at the runbook sections
 * of docs/deploy.md. With the first 10 alarms and 3 dashboards free per account, a single deployment's
 * 7 alarms and 1 dashboard usually cost nothing.
 */
export class NightscoutConnectMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];
  /** Present only when `alarmEmail` is set. */
  readonly alarmTopic?: sns.Topic;

  constructor(scope: Construct, id: string, props: NightscoutConnectMonitoringProps) {
    super(scope, id);
    if (props.alarmEmail) {
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'Nightscout Connect alarms',
        enforceSSL: true,
      });
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
      Validations.of(this.alarmTopic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Alarm notifications carry no secrets. CloudWatch cannot publish to a topic under the AWS-managed SNS key, ' +
          'and a customer-managed key would add $1/month to every deployment.',
      });
    }

    this.alarms = this.createAlarms(props);
    this.dashboard = this.createDashboard(props);
  }

  private createAlarms(props: NightscoutConnectMonitoringProps): cloudwatch.Alarm[] {
    const { services, functions, deadLetterQueues } = props;
    const alarms: cloudwatch.Alarm[] = [];
    const add = (alarm: cloudwatch.Alarm) => {
      if (this.alarmTopic) {
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
        alarm.addOkAction(new cloudwatchActions.SnsAction(this.alarmTopic));
      }
      alarms.push(alarm);
    };

    const dlqs: Array<[string, sqs.IQueue, string]> = [
      ['FetchDlqNotEmpty', deadLetterQueues.fetch, 'fetch frames'],
      ['PersistDlqNotEmpty', deadLetterQueues.persist, 'persist frames'],
      ['ScheduleDlqNotEmpty', deadLetterQueues.schedule, 'ticks the scheduler could not deliver'],
    ];
    for (const [id, queue, what] of dlqs) {
      add(
        new cloudwatch.Alarm(this, id, {
          alarmDescription: `Dead-letter queue holds ${what}. See docs/deploy.md, runbook "${id}".`,
          metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    add(
      new cloudwatch.Alarm(this, 'AuthRejected', {
        alarmDescription: 'A vendor rejected a login. See docs/deploy.md, runbook "AuthRejected".',
        metric: appMetric('AuthRejected', services.fetchFrame, 'Sum'),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    add(
      new cloudwatch.Alarm(this, 'FreshnessLag', {
        alarmDescription:
          `p95 reading freshness lag above ${props.freshnessAlarmThresholdSeconds} s for 15 minutes. ` +
          'See docs/deploy.md, runbook "FreshnessLag".',
        metric: appMetric('FreshnessLagMs', services.persist, 'p95'),
        threshold: props.freshnessAlarmThresholdSeconds * 1000,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // No readings is not lateness; the missed-tick and DLQ alarms cover a pipeline that stopped.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    add(
      new cloudwatch.Alarm(this, 'TickErrors', {
        alarmDescription: 'The tick reported errors or crashed. See docs/deploy.md, runbook "TickErrors".',
        // Handled errors show in TickErrors, crashes and timeouts only in the Lambda Errors metric.
        metric: new cloudwatch.MathExpression({
          expression: 'FILL(handled, 0) + FILL(crashed, 0)',
          label: 'Tick errors',
          period: Duration.minutes(5),
          usingMetrics: {
            handled: appMetric('TickErrors', services.tick, 'Sum'),
            crashed: functions.tick.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
          },
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    add(
      new cloudwatch.Alarm(this, 'MissedTicks', {
        alarmDescription: 'The tick has not run for 5 minutes. See docs/deploy.md, runbook "MissedTicks".',
        metric: functions.tick.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // Lambda publishes no Invocations datapoint when nothing ran: silence is the failure.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    return alarms;
  }

  private createDashboard(props: NightscoutConnectMonitoringProps): cloudwatch.Dashboard {
    const { services, functions, deadLetterQueues } = props;
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Dashboard names allow only letters, digits, '-' and '_'.
      dashboardName: props.dashboardName.replace(/[^A-Za-z0-9_-]/g, '-'),
      defaultInterval: Duration.hours(6),
    });
    const minute = Duration.minutes(1);
    const count = (name: string, service: string, label?: string) => appMetric(name, service, 'Sum', minute, label);
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });

    dashboard.addWidgets(
      graph('Tick: sources due vs advanced', [
        count('SourcesDue', services.tick, 'due'),
        count('SourcesAdvanced', services.tick, 'advanced'),
        count('FramesDispatched', services.tick, 'frames dispatched'),
        count('TickErrors', services.tick, 'tick errors'),
      ]),
      graph('Frames fetched / failed by kind', [
        count('FramesFetched', services.fetchFrame, 'fetched'),
        count('FrameFailed_retryable', services.fetchFrame, 'retryable'),
        count('FrameFailed_permanent', services.fetchFrame, 'permanent'),
        count('FrameFailed_authRejected', services.fetchFrame, 'auth rejected'),
        count('FrameFailed_lockedOut', services.fetchFrame, 'locked out'),
      ]),
      graph('Readings written', [
        count('ReadingsWritten', services.persist, 'readings written'),
        count('PersistFailed', services.persist, 'persist failed'),
      ]),
    );
    dashboard.addWidgets(
      graph('Freshness lag (ms)', [
        appMetric('FreshnessLagMs', services.persist, 'p50', Duration.minutes(5), 'p50'),
        appMetric('FreshnessLagMs', services.persist, 'p95', Duration.minutes(5), 'p95'),
        appMetric('FreshnessLagMs', services.persist, 'Maximum', Duration.minutes(5), 'max'),
      ]),
      graph('Logins and auth rejections', [
        count('Logins', services.fetchFrame, 'logins'),
        count('AuthRejected', services.fetchFrame, 'auth rejected'),
      ]),
      graph('Tick duration (ms)', [
        appMetric('TickDurationMs', services.tick, 'p50', minute, 'p50'),
        appMetric('TickDurationMs', services.tick, 'Maximum', minute, 'max'),
      ]),
    );

    const dlqs: Array<[string, sqs.IQueue]> = [
      ['fetch DLQ', deadLetterQueues.fetch],
      ['persist DLQ', deadLetterQueues.persist],
      ['schedule DLQ', deadLetterQueues.schedule],
    ];
    dashboard.addWidgets(
      graph(
        'DLQ depth (messages visible)',
        dlqs.map(([label, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label }),
        ),
        12,
      ),
      graph(
        'DLQ oldest message age (s)',
        dlqs.map(([label, q]) =>
          q.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label }),
        ),
        12,
      ),
    );

    const fns: Array<[string, lambda.IFunction]> = [
      ['tick', functions.tick],
      ['fetch-frame', functions.fetchFrame],
      ['persist', functions.persist],
    ];
    dashboard.addWidgets(
      graph(
        'Lambda errors',
        fns.map(([label, fn]) => fn.metricErrors({ period: minute, label })),
      ),
      graph(
        'Lambda throttles',
        fns.map(([label, fn]) => fn.metricThrottles({ period: minute, label })),
      ),
      graph(
        'Lambda duration p95 (ms)',
        fns.map(([label, fn]) => fn.metricDuration({ period: minute, statistic: 'p95', label })),
      ),
    );
    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
    return dashboard;
  }
}

/** An application (EMF) metric. Only the `service` dimension: per-source dimensions cost $0.30 each a month. */
function appMetric(
  metricName: string,
  service: string,
  statistic: string,
  period: Duration = Duration.minutes(5),
  label?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period,
    label,
  });
}
