import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { NightscoutConnectStack } from '../../infra/stacks/nightscout-connect.stack.js';
import { testContext } from '../helpers/infra-context.helper.js';

/**
 * cdk-nag 3 runs as a policy-validation plugin. `validateScope` returns what synth would report, with
 * acknowledged findings already filtered out; warnings count too, so the lists must be empty.
 */
function nagFindings(context: Record<string, unknown>): string[] {
  const app = new App({ context: testContext(context) });
  new NightscoutConnectStack(app, 'NightscoutConnect');
  const report = new AwsSolutionsChecks(app).validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings in single mode', () => {
    expect(nagFindings({ mode: 'single' })).toEqual([]);
  });

  it('has no unacknowledged findings in community mode with an alarm topic', () => {
    expect(nagFindings({ mode: 'community', alarmEmail: 'ops@example.org' })).toEqual([]);
  });

  it('synthesizes with the pack registered the way infra/bin/app.ts does', () => {
    // Prepare
    const app = new App({ context: testContext({ mode: 'community', alarmEmail: 'ops@example.org' }) });
    new NightscoutConnectStack(app, 'NightscoutConnect');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act / Assess
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth on an unacknowledged finding', () => {
    // Prepare: a second stack with a bare queue (no DLQ, SSL not enforced).
    const app = new App({ context: testContext() });
    new NightscoutConnectStack(app, 'NightscoutConnect');
    new sqs.Queue(new Stack(app, 'Offender'), 'BareQueue');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act / Assess
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});
