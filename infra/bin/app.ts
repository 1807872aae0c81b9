import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NightscoutConnectStack } from '../stacks/nightscout-connect.stack.js';

/**
 * CDK app entry (cdk.json: `npx tsx infra/bin/app.ts`). One stack, configured from context (see
 * `connectPropsFromContext`); `-c stackName=…` deploys a second, independent copy in the same account.
 * cdk-nag's AwsSolutions pack runs as a policy-validation plugin: any finding without a written
 * acknowledgment fails `cdk synth` and `cdk deploy`.
 */
const app = new App();
const stackName: unknown = app.node.tryGetContext('stackName');
new NightscoutConnectStack(app, typeof stackName === 'string' && stackName !== '' ? stackName : 'NightscoutConnect');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
