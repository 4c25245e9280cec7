/**
 * A CDK user's own app, as the package README tells them to write it: their
 * existing RestApi, whose URLs carry no app id, one of their own methods
 * (`GET /orders`) behind keygate's API-key authorizer in context scope, and
 * keygate's routes, the public revoke route throttled on its own. Compiled
 * and synthesized by package.test.ts in a fresh folder against the packed
 * tarball; cdk-nag fails the synth on any finding.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppScope, KeygateAuth } from 'keygate';

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'ConsumerStack');

// The app is not in this API's URLs: the Allow covers the API's own stage, and the backend reads appUid from the authorizer context.
const auth = new KeygateAuth(stack, 'Keygate', { appScope: AppScope.CONTEXT });
const accessLogs = new logs.LogGroup(stack, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
const api = new apigateway.RestApi(stack, 'OrdersApi', {
  cloudWatchRole: false,
  deployOptions: {
    throttlingRateLimit: 50,
    throttlingBurstLimit: 100,
    // The public revoke route's own, lower throttling.
    methodOptions: auth.stageMethodOptions(),
    accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
    accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
  },
});

// The one line that protects the user's own method.
api.root
  .resourceForPath('/orders')
  .addMethod('GET', new apigateway.MockIntegration({ integrationResponses: [{ statusCode: '200' }], requestTemplates: { 'application/json': '{"statusCode": 200}' } }), {
    ...auth.apiKeyMethodOptions,
    methodResponses: [{ statusCode: '200' }],
  });
auth.addRoutes(api);

// The user's own choices for their own API, acknowledged as a user would.
Validations.of(api).acknowledge(
  { id: 'AwsSolutions-APIG2', reason: 'The consumer app validates its own request bodies in its backend; keygate validates its own in its functions.' },
  { id: 'AwsSolutions-COG4', reason: 'Callers authenticate with keygate API keys and session tokens through its Lambda REQUEST authorizers, not Cognito.' },
);
Validations.of(api.deploymentStage).acknowledge(
  { id: 'AwsSolutions-APIG3', reason: 'The consumer app associates its organisation-wide WAF web ACL outside this stack.' },
  { id: 'AwsSolutions-APIG6', reason: 'Execution logging needs the account-wide CloudWatch role, which this consumer app does not manage; access logs are on.' },
);
// The test's proof that the checks are live: one finding nobody acknowledged must fail the synth.
if (process.env.ADD_UNACKNOWLEDGED_FINDING) new secretsmanager.Secret(stack, 'Unacknowledged');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

app.synth();
