import { CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { KeygateAuth, type KeygateAuthProps } from './keygate-auth';
import { ADMIN_FUNCTIONS, adminFunctionOutput, FUNCTIONS } from '../shared/functions';

/** Stage-wide throttling defaults; API Gateway answers 429 above them. The revoke route has its own, lower limit (KeygateAuthProps.revokeThrottling). */
export const DEFAULT_THROTTLING_RATE_LIMIT = 100;
export const DEFAULT_THROTTLING_BURST_LIMIT = 200;
export const STAGE_NAME = 'prod';

export interface KeygateStackProps extends StackProps {
  /** Passed to the `KeygateAuth` construct. @default {} */
  readonly auth?: KeygateAuthProps;
  /** Steady-state requests per second of the stage. @default 100 */
  readonly throttlingRateLimit?: number;
  /** Burst capacity of the stage. @default 200 */
  readonly throttlingBurstLimit?: number;
  /** Retention of the API access logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly accessLogRetention?: logs.RetentionDays;
}

/**
 * Access log record: one JSON object per request. It carries the authorizer's
 * principal (a keyId or a userId) but no header, so never a key or token.
 * Validation error strings are left out on purpose: they can quote the
 * rejected value, and request bodies carry end-user emails.
 */
export function accessLogFormat(): apigateway.AccessLogFormat {
  const F = apigateway.AccessLogField;
  return apigateway.AccessLogFormat.custom(
    JSON.stringify({
      requestId: F.contextRequestId(),
      requestTime: F.contextRequestTime(),
      sourceIp: F.contextIdentitySourceIp(),
      userAgent: F.contextIdentityUserAgent(),
      httpMethod: F.contextHttpMethod(),
      resourcePath: F.contextResourcePath(),
      path: F.contextPath(),
      status: F.contextStatus(),
      protocol: F.contextProtocol(),
      responseLength: F.contextResponseLength(),
      responseLatency: F.contextResponseLatency(),
      integrationLatency: F.contextIntegrationLatency(),
      principalId: F.contextAuthorizerPrincipalId(),
      authorizerStatus: F.contextAuthorizerStatus(),
      authorizerLatency: F.contextAuthorizerLatency(),
      authorizerError: F.contextAuthorizerError(),
      errorType: F.contextErrorResponseType(),
    }),
  );
}

/**
 * keygate as a deployable stack: the `KeygateAuth` construct plus a REST API
 * whose routes come from the route table in lib/routes.ts (the local gateway
 * serves the same table).
 */
export class KeygateStack extends Stack {
  public readonly auth: KeygateAuth;
  public readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: KeygateStackProps = {}) {
    super(scope, id, props);

    this.auth = new KeygateAuth(this, 'Keygate', props.auth);

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.auth?.removalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `${this.stackName}-api`,
      description: 'keygate: API-key authenticated REST API',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // The account-wide API Gateway CloudWatch role is account state, not this stack's to own
      // (also set by the @aws-cdk/aws-apigateway:disableCloudWatchRole flag in cdk.json).
      cloudWatchRole: false,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttlingRateLimit ?? DEFAULT_THROTTLING_RATE_LIMIT,
        throttlingBurstLimit: props.throttlingBurstLimit ?? DEFAULT_THROTTLING_BURST_LIMIT,
        // The public revoke route's own, lower throttling (auth: { revokeThrottling }).
        methodOptions: this.auth.stageMethodOptions(),
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: accessLogFormat(),
      },
    });

    this.auth.addRoutes(this.api);

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        "The routes with a body (POST sdkusers/auth, POST /api/v1/keys/revoke) are validated by their functions, which answer 400 naming the field. An API Gateway model is left out on purpose: its validation message quotes the rejected value, so a key or token sent in the wrong field would be echoed in the answer and logs.",
    });
    Validations.of(this.api.deploymentStage).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'WAF is left to the deployer: a web ACL costs a monthly fee plus per-request charges and its rules are account policy. The stage is throttled, and every request is authorized by key before any backend runs. Associate a web ACL with the stage ARN if needed.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the account-wide API Gateway CloudWatch role, which this stack deliberately does not create, and its data-trace mode records request data, which is where keys and session tokens travel. The JSON access log (APIG1) records every request without headers; the functions log their own decisions.',
      },
    );

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL; routes are under api/v1/appuid/{appUid}/, the public revoke route is api/v1/keys/revoke' });
    // The CLI finds the admin functions through these outputs (names from lib/shared/functions.ts).
    for (const id of ADMIN_FUNCTIONS) {
      const fn = this.auth.functions[id];
      if (fn) new CfnOutput(this, adminFunctionOutput(id), { value: fn.functionName, description: FUNCTIONS[id].description });
    }
    new CfnOutput(this, 'KeysTableName', { value: this.auth.keysTable.tableName });
    if (this.auth.sessionsTable) new CfnOutput(this, 'SessionsTableName', { value: this.auth.sessionsTable.tableName });
    if (this.auth.usersTable) new CfnOutput(this, 'UsersTableName', { value: this.auth.usersTable.tableName });
  }
}
