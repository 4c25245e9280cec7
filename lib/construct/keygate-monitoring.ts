import { Duration, Token } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ERROR_OUTCOME, METRIC, REFUSAL_OUTCOMES, SERVICE_NAME, VALID_OUTCOME, type CredentialKind } from '../shared/metrics';
import type { KeygateAuth } from './keygate-auth';

/** Defaults of the alarm thresholds (README "Operating keygate" explains each). */
export const DEFAULT_ALARM_THRESHOLDS = {
  /** Failed verifications (API Gateway 500s) plus Lambda throttles of one authorizer, per minute. */
  authorizerErrors: 1,
  /** Share of the stage's requests answered 5xx over 5 minutes. */
  api5xxRate: 0.05,
  /** p99 duration of one authorizer over 5 minutes, 3 periods in a row. */
  authorizerLatencyP99: Duration.millis(500),
  /** Read and write throttle events on one table, per 5 minutes. */
  dynamoDbThrottles: 1,
  /** DynamoDB system errors (HTTP 500 from DynamoDB) on one table, per 5 minutes. */
  dynamoDbSystemErrors: 1,
  /** Refused API keys (malformed, unknown, expired, ...) per 5 minutes. */
  refusedKeys: 500,
  /** Keys revoked by report (the public revoke route) per 5 minutes. */
  revokedKeys: 5,
  /** Key and session items refused because their seal is missing or does not verify, per 5 minutes: any one is someone at the tables. */
  tamperedRecords: 1,
} as const;

/** DynamoDB operations keygate's functions call (deletes are transactions; list-keys batch-reads lastUsedAt); SystemErrors is only published per operation. */
export const WATCHED_TABLE_OPERATIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchGetItem', 'BatchWriteItem', 'TransactWriteItems', 'Scan'] as const;

export interface KeygateMonitoringProps {
  /** The keygate whose functions, tables and metrics are watched. */
  readonly auth: KeygateAuth;

  /**
   * The API Gateway stage keygate's routes are served on: its 5xx rate gets
   * an alarm and its requests a graph.
   *
   * @default no API alarm or graph
   */
  readonly apiStage?: apigateway.StageBase;

  /**
   * Where alarms notify, when they fire and when they clear.
   *
   * @default no notifications: the alarms show on the dashboard and in the CloudWatch console
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Name of the CloudWatch dashboard.
   *
   * @default a name CloudFormation generates
   */
  readonly dashboardName?: string;

  /**
   * Errors of one authorizer in one minute that fire its alarm: verifications
   * that failed (DynamoDB or the pepper unavailable; API Gateway answers 500)
   * plus Lambda throttles of the authorizer (also a 500).
   *
   * @default 1
   */
  readonly authorizerErrorsThreshold?: number;

  /**
   * Share of the stage's requests answered with a 5xx over 5 minutes that
   * fires the API alarm, between 0 and 1. Needs `apiStage`.
   *
   * @default 0.05 (5 %)
   */
  readonly api5xxRateThreshold?: number;

  /**
   * p99 duration of an authorizer over 5 minutes that fires its latency
   * alarm when reached 3 periods in a row.
   *
   * @default Duration.millis(500)
   */
  readonly authorizerLatencyP99Threshold?: Duration;

  /**
   * Read and write throttle events of the keys or sessions table in 5 minutes that fire its alarm.
   *
   * @default 1
   */
  readonly dynamoDbThrottlesThreshold?: number;

  /**
   * DynamoDB system errors on the keys or sessions table in 5 minutes that fire its alarm.
   *
   * @default 1
   */
  readonly dynamoDbSystemErrorsThreshold?: number;

  /**
   * Refused API keys (malformed, unknown, expired, disabled or tampered) in
   * 5 minutes that fire the surge alarm: someone scanning for keys, or a
   * leaked and since deleted key still in use.
   *
   * @default 500
   */
  readonly refusedKeysThreshold?: number;

  /**
   * Keys revoked by report (the public `POST /api/v1/keys/revoke`) in 5
   * minutes that fire the revocation alarm: many keys leaked at once, or
   * someone who holds many keys revoking them. Each revoked key's client
   * gets 401 from then on. Fewer show on the dashboard and in each app's
   * activity log (`revoked-by-report`); 1 notifies on every one.
   *
   * @default 5
   */
  readonly revokedKeysThreshold?: number;

  /**
   * Key and session items refused as `tampered` (their seal is missing or
   * does not verify) in 5 minutes, both authorizers together, that fire the
   * tampering alarm. Outside an upgrade window nothing keygate writes is
   * refused so: one means someone wrote the tables without the pepper.
   *
   * @default 1
   */
  readonly tamperedRecordsThreshold?: number;
}

/** Every alarm KeygateMonitoring creates, by name. `api5xxRate` exists only with `apiStage`. */
export type KeygateAlarmName =
  | 'apiKeyAuthorizerErrors'
  | 'sessionAuthorizerErrors'
  | 'api5xxRate'
  | 'apiKeyAuthorizerLatency'
  | 'sessionAuthorizerLatency'
  | 'keysTableThrottles'
  | 'sessionsTableThrottles'
  | 'keysTableSystemErrors'
  | 'sessionsTableSystemErrors'
  | 'refusedKeysSurge'
  | 'revokedKeysSurge'
  | 'tamperedRecords';

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);
const CREDENTIALS: readonly { readonly kind: CredentialKind; readonly title: string; readonly id: 'apiKey' | 'session' }[] = [
  { kind: 'api_key', title: 'API-key authorizer', id: 'apiKey' },
  { kind: 'session_token', title: 'Session authorizer', id: 'session' },
];

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`KeygateMonitoring: ${name} must be a number greater than 0, got ${value}`);
  return value;
}

/**
 * Alarms and a dashboard for a keygate deployment: authorizer errors,
 * authorizer p99 latency, the API's 5xx rate, DynamoDB throttles and system
 * errors on the keys and sessions tables, a surge of refused keys, a
 * surge of keys revoked by report, and items refused as tampered. The dashboard shows the same figures next
 * to the verifications by outcome, admin operations, revocation reports and
 * failed lastUsedAt writes the functions publish.
 *
 * Each alarm treats missing data as not breaching: no traffic is no alarm.
 */
export class KeygateMonitoring extends Construct {
  public readonly alarms: Readonly<Partial<Record<KeygateAlarmName, cloudwatch.Alarm>>>;
  public readonly dashboard: cloudwatch.Dashboard;
  private readonly namespace: string;

  constructor(scope: Construct, id: string, props: KeygateMonitoringProps) {
    super(scope, id);
    const { auth } = props;
    this.namespace = auth.metricsNamespace;
    const authorizerErrors = positive('authorizerErrorsThreshold', props.authorizerErrorsThreshold ?? DEFAULT_ALARM_THRESHOLDS.authorizerErrors);
    const api5xxRate = positive('api5xxRateThreshold', props.api5xxRateThreshold ?? DEFAULT_ALARM_THRESHOLDS.api5xxRate);
    if (api5xxRate > 1) throw new Error(`KeygateMonitoring: api5xxRateThreshold is a share of requests, between 0 and 1, got ${api5xxRate}`);
    if (props.api5xxRateThreshold !== undefined && !props.apiStage) throw new Error('KeygateMonitoring: api5xxRateThreshold needs apiStage');
    const latency = props.authorizerLatencyP99Threshold ?? DEFAULT_ALARM_THRESHOLDS.authorizerLatencyP99;
    if (Token.isUnresolved(latency.toMilliseconds({ integral: false }))) throw new Error('KeygateMonitoring: authorizerLatencyP99Threshold must be known at synth time');
    const latencyMs = positive('authorizerLatencyP99Threshold (ms)', latency.toMilliseconds({ integral: false }));
    const throttles = positive('dynamoDbThrottlesThreshold', props.dynamoDbThrottlesThreshold ?? DEFAULT_ALARM_THRESHOLDS.dynamoDbThrottles);
    const systemErrors = positive('dynamoDbSystemErrorsThreshold', props.dynamoDbSystemErrorsThreshold ?? DEFAULT_ALARM_THRESHOLDS.dynamoDbSystemErrors);
    const refusedKeys = positive('refusedKeysThreshold', props.refusedKeysThreshold ?? DEFAULT_ALARM_THRESHOLDS.refusedKeys);
    const revokedKeys = positive('revokedKeysThreshold', props.revokedKeysThreshold ?? DEFAULT_ALARM_THRESHOLDS.revokedKeys);
    const tamperedRecords = positive('tamperedRecordsThreshold', props.tamperedRecordsThreshold ?? DEFAULT_ALARM_THRESHOLDS.tamperedRecords);

    // With enableSessions: false there is no session authorizer and no sessions table to watch.
    const authorizers = CREDENTIALS.flatMap((credential) => {
      const fn = credential.kind === 'api_key' ? auth.functions.apiKeyAuthorizer : auth.functions.sessionAuthorizer;
      return fn ? [{ ...credential, fn }] : [];
    });
    const tables: readonly { readonly id: 'keys' | 'sessions'; readonly title: string; readonly table: dynamodb.ITable }[] = [
      { id: 'keys', title: 'Keys table', table: auth.keysTable },
      ...(auth.sessionsTable ? [{ id: 'sessions' as const, title: 'Sessions table', table: auth.sessionsTable }] : []),
    ];

    const alarms: Partial<Record<KeygateAlarmName, cloudwatch.Alarm>> = {};
    const alarm = (name: KeygateAlarmName, metric: cloudwatch.IMetric, threshold: number, description: string, periods = 1) => {
      const created = new cloudwatch.Alarm(this, `${name.charAt(0).toUpperCase()}${name.slice(1)}Alarm`, {
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `keygate: ${description} Runbook: README, "Operating keygate", alarm ${name}.`,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new actions.SnsAction(props.alarmTopic));
        created.addOkAction(new actions.SnsAction(props.alarmTopic));
      }
      alarms[name] = created;
      return created;
    };

    for (const { kind, title, id: prefix, fn } of authorizers) {
      alarm(
        `${prefix}AuthorizerErrors`,
        sum(`${title} errors`, ONE_MINUTE, {
          failed: this.verifications(kind, ERROR_OUTCOME, ONE_MINUTE),
          throttled: fn.metricThrottles({ period: ONE_MINUTE, statistic: 'Sum' }),
        }),
        authorizerErrors,
        `the ${title} failed requests (API Gateway answered 500): verifications that could not complete (DynamoDB or the pepper unavailable) or Lambda throttled it.`,
      );
      alarm(
        `${prefix}AuthorizerLatency`,
        fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99', label: `${title} p99 duration` }),
        latencyMs,
        `the ${title}'s p99 duration stayed at or above ${latencyMs} ms for 15 minutes.`,
        3,
      );
    }
    if (props.apiStage) {
      alarm(
        'api5xxRate',
        props.apiStage.metricServerError({ period: FIVE_MINUTES, statistic: 'Average', label: 'API 5xx rate' }),
        api5xxRate,
        `at least ${api5xxRate * 100} % of the API's requests in 5 minutes were answered with a 5xx.`,
      );
    }
    for (const { id: prefix, title, table } of tables) {
      alarm(`${prefix}TableThrottles`, this.tableThrottles(table, title), throttles, `DynamoDB throttled requests on the ${title.toLowerCase()}.`);
      alarm(`${prefix}TableSystemErrors`, this.tableSystemErrors(table, title), systemErrors, `DynamoDB answered requests on the ${title.toLowerCase()} with internal errors.`);
    }
    alarm(
      'refusedKeysSurge',
      sum('Refused API keys', FIVE_MINUTES, Object.fromEntries(REFUSAL_OUTCOMES.map((outcome) => [outcome, this.verifications('api_key', outcome, FIVE_MINUTES)]))),
      refusedKeys,
      'a surge of refused API keys: someone scanning for keys, a client with a mistyped key, or a leaked and deleted key still in use.',
    );
    alarm(
      'revokedKeysSurge',
      this.metric(METRIC.keysRevoked, 'Keys revoked by report'),
      revokedKeys,
      'keys were revoked by report (POST /api/v1/keys/revoke): many keys leaked at once, or someone holding many keys revoked them; their clients now get 401.',
    );
    alarm(
      'tamperedRecords',
      sum('Tampered records refused', FIVE_MINUTES, Object.fromEntries(authorizers.map(({ kind, id: prefix }) => [prefix, this.verifications(kind, 'tampered', FIVE_MINUTES)]))),
      tamperedRecords,
      'the authorizers refused key or session items whose seal is missing or does not verify: someone wrote the tables without the pepper (or unsealed items remain after an upgrade).',
    );
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName && { dashboardName: props.dashboardName }),
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'keygate alarms', alarms: Object.values(alarms), width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      ...authorizers.map(
        ({ kind, title }) =>
          new cloudwatch.GraphWidget({
            title: `${title}: verifications by outcome (per 5 minutes)`,
            left: [VALID_OUTCOME, ...REFUSAL_OUTCOMES, ERROR_OUTCOME].map((outcome) => this.verifications(kind, outcome, FIVE_MINUTES)),
            stacked: true,
            width: 12,
          }),
      ),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Authorizer duration (Lambda, p50 and p99)',
        left: authorizers.flatMap(({ fn, title }) =>
          ['p50', 'p99'].map((statistic) => fn.metricDuration({ period: FIVE_MINUTES, statistic, label: `${title} ${statistic}` })),
        ),
        leftAnnotations: [{ value: latencyMs, label: 'p99 alarm' }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Verification latency (p99, to a decision)',
        left: authorizers.flatMap(({ kind, title }) =>
          [VALID_OUTCOME, 'not_found'].map(
            (outcome) =>
              new cloudwatch.Metric({
                namespace: this.namespace,
                metricName: METRIC.verificationLatency,
                dimensionsMap: { service: SERVICE_NAME, credential: kind, outcome },
                statistic: 'p99',
                period: FIVE_MINUTES,
                label: `${title}, ${outcome}`,
              }),
          ),
        ),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      ...authorizers.map(({ id: prefix, title }) => graphOf(`${title} errors (per minute)`, alarms[`${prefix}AuthorizerErrors`]!, 6)),
      graphOf('Refused API keys (per 5 minutes)', alarms.refusedKeysSurge!, 6),
      graphOf('Keys revoked by report (per 5 minutes)', alarms.revokedKeysSurge!, 6),
      graphOf('Tampered records refused (per 5 minutes)', alarms.tamperedRecords!, 6),
    );
    if (props.apiStage) {
      const stage = props.apiStage;
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'API requests (per 5 minutes)',
          left: [
            stage.metricCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' }),
            stage.metricClientError({ period: FIVE_MINUTES, statistic: 'Sum', label: '4xx' }),
            stage.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum', label: '5xx' }),
          ],
          width: 12,
        }),
        graphOf('API 5xx rate', alarms.api5xxRate!, 12),
      );
    }
    this.dashboard.addWidgets(
      ...tables.flatMap(({ id: prefix, title }) => [
        graphOf(`${title}: throttled requests`, alarms[`${prefix}TableThrottles`]!, 6),
        graphOf(`${title}: system errors`, alarms[`${prefix}TableSystemErrors`]!, 6),
      ]),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Admin operations by operation and outcome (per 5 minutes)',
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{"${this.namespace}",operation,outcome,service} MetricName="${METRIC.adminOperations}"', 'Sum', 300)`,
            period: FIVE_MINUTES,
          }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Revocation reports (per 5 minutes)',
        left: [METRIC.revocationReports, METRIC.keysReported, METRIC.keysRevoked].map((metricName) => this.metric(metricName)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'lastUsedAt writes that failed (per 5 minutes)',
        left: [this.metric(METRIC.lastUsedWriteFailures)],
        width: 8,
      }),
    );
  }

  /** keygate's `Verifications` metric for one credential kind and outcome, summed over `period`. */
  public verifications(credential: CredentialKind, outcome: string, period: Duration = FIVE_MINUTES): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: METRIC.verifications,
      dimensionsMap: { service: SERVICE_NAME, credential, outcome },
      statistic: 'Sum',
      period,
      label: outcome,
    });
  }

  /** One of keygate's metrics that have no dimension besides `service`, summed per 5 minutes. */
  private metric(metricName: string, label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.namespace, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period: FIVE_MINUTES, label });
  }

  private tableThrottles(table: dynamodb.ITable, title: string): cloudwatch.IMetric {
    return sum(`${title} throttled requests`, FIVE_MINUTES, {
      read: table.metric('ReadThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
      write: table.metric('WriteThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
    });
  }

  private tableSystemErrors(table: dynamodb.ITable, title: string): cloudwatch.IMetric {
    return sum(
      `${title} system errors`,
      FIVE_MINUTES,
      Object.fromEntries(
        WATCHED_TABLE_OPERATIONS.map((operation) => [
          operation.toLowerCase(),
          table.metric('SystemErrors', { period: FIVE_MINUTES, statistic: 'Sum', dimensionsMap: { TableName: table.tableName, Operation: operation } }),
        ]),
      ),
    );
  }
}

/**
 * The sum of several metrics per period. `SUM([...])` adds whatever values
 * each period has: these metrics are only published when something happens,
 * and plain `a + b` would have no value unless every one of them had.
 */
function sum(label: string, period: Duration, metrics: Record<string, cloudwatch.IMetric>): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: `SUM([${Object.keys(metrics).join(', ')}])`, usingMetrics: metrics, label, period });
}

/** A graph of an alarm's metric with its threshold line. */
function graphOf(title: string, alarm: cloudwatch.Alarm, width: number): cloudwatch.AlarmWidget {
  return new cloudwatch.AlarmWidget({ title, alarm, width });
}
