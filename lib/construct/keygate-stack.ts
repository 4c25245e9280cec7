import { CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ADMIN_FUNCTIONS, adminFunctionOutput, FUNCTIONS } from '../shared/functions';
import { KeygateAuth, type KeygateAuthProps } from './keygate-auth';
import { KeygateMonitoring, type KeygateMonitoringProps } from './keygate-monitoring';
import { REVOKE_ROUTE } from '../shared/routes';
import { plansInForce } from '../shared/plans';

/** KeygateMonitoring's props that the stack leaves to its user: the SNS topic, the dashboard name, the thresholds. */
export type KeygateStackMonitoringProps = Omit<KeygateMonitoringProps, 'auth' | 'apiStage'>;

/** Stage-wide throttling defaults; API Gateway answers 429 above them. The revoke route has its own, lower limit (KeygateAuthProps.revokeThrottling). */
export const DEFAULT_THROTTLING_RATE_LIMIT = 100;
export const DEFAULT_THROTTLING_BURST_LIMIT = 200;
export const STAGE_NAME = 'prod';
/**
 * The stack's per-IP limit (requests per 5 minutes): 3000 is 10 requests/s
 * sustained, a tenth of the stage's default rate, so one client alone cannot
 * take the stage's capacity from every other tenant.
 */
export const DEFAULT_PER_IP_RATE_LIMIT = 3000;

export interface KeygateStackProps extends StackProps {
  /**
   * Passed to the `KeygateAuth` construct. Unlike the construct, the stack
   * turns plans on: `plans` defaults to `DEFAULT_PLANS` (free, standard,
   * premium) with `defaultPlan` 'free'; `plans: []` turns them off. It also
   * turns its AWS WAF web ACL on: `perIpRateLimit` defaults to 3000 requests
   * per IP per 5 minutes here; `perIpRateLimit: 0` turns it off.
   *
   * @default { plans: DEFAULT_PLANS, defaultPlan: 'free', perIpRateLimit: 3000 }
   */
  readonly auth?: KeygateAuthProps;
  /** Steady-state requests per second of the stage. @default 100 */
  readonly throttlingRateLimit?: number;
  /** Burst capacity of the stage. @default 200 */
  readonly throttlingBurstLimit?: number;
  /** Retention of the API access logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * Alarms and a dashboard (KeygateMonitoring) on the stack's functions,
   * tables and API stage; `false` leaves them out. Pass `alarmTopic` to be
   * notified.
   *
   * @default {} (on, default thresholds, no notifications)
   */
  readonly monitoring?: KeygateStackMonitoringProps | false;
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
  /** Alarms and dashboard; undefined with `monitoring: false`. */
  public readonly monitoring?: KeygateMonitoring;

  constructor(scope: Construct, id: string, props: KeygateStackProps = {}) {
    super(scope, id, props);

    const auth = props.auth ?? {};
    this.auth = new KeygateAuth(this, 'Keygate', {
      perIpRateLimit: DEFAULT_PER_IP_RATE_LIMIT,
      ...auth,
      ...plansInForce(auth.plans, auth.defaultPlan),
    });

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
    if (props.monitoring !== false) {
      this.monitoring = new KeygateMonitoring(this, 'Monitoring', { ...props.monitoring, auth: this.auth, apiStage: this.api.deploymentStage });
    }
    if (this.auth.webAcl) this.auth.associateWebAcl(this.api.deploymentStage);

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        "The routes with a body (POST sdkusers/auth, POST /api/v1/keys/revoke) are validated by their functions, which answer 400 naming the field. An API Gateway model is left out on purpose: its validation message quotes the rejected value, so a key or token sent in the wrong field would be echoed in the answer and logs.",
    });
    if (!this.auth.webAcl) {
      Validations.of(this.api.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'The per-IP web ACL was turned off (auth.perIpRateLimit: 0), e.g. because the account attaches its own WAF policy or to save its monthly and per-request fees. The stage is throttled, and every request is authorized by key before any backend runs.',
      });
    }
    Validations.of(this.api.deploymentStage).acknowledge(
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the account-wide API Gateway CloudWatch role, which this stack deliberately does not create, and its data-trace mode records request data, which is where keys and session tokens travel. The JSON access log (APIG1) records every request without headers; the functions log their own decisions.',
      },
    );

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: `Base URL; routes are under ${this.auth.authSettings.basePath.slice(1)}/, the public revoke route is ${REVOKE_ROUTE.path.slice(1)}`,
    });
    // The CLI finds the admin functions through these outputs (names from lib/shared/functions.ts).
    for (const id of ADMIN_FUNCTIONS) {
      const fn = this.auth.functions[id];
      if (fn) new CfnOutput(this, adminFunctionOutput(id), { value: fn.functionName, description: FUNCTIONS[id].description });
    }
    new CfnOutput(this, 'KeysTableName', { value: this.auth.keysTable.tableName });
    if (this.auth.sessionsTable) new CfnOutput(this, 'SessionsTableName', { value: this.auth.sessionsTable.tableName });
    if (this.auth.usersTable) new CfnOutput(this, 'UsersTableName', { value: this.auth.usersTable.tableName });
    if (this.monitoring) {
      new CfnOutput(this, 'DashboardUrl', {
        value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
        description: 'The keygate CloudWatch dashboard',
      });
    }
  }
}
