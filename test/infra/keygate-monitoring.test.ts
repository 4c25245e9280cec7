import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { KeygateAuth } from '../../lib/construct/keygate-auth';
import { DEFAULT_ALARM_THRESHOLDS, KeygateMonitoring, WATCHED_TABLE_OPERATIONS, type KeygateAlarmName, type KeygateMonitoringProps } from '../../lib/construct/keygate-monitoring';
import { KeygateStack } from '../../lib/construct/keygate-stack';
import { REFUSAL_OUTCOMES } from '../../lib/shared/metrics';
import { cdkJsonContext, logicalId, synthKeygateStack } from './infra-app';

/** An alarm's metric as CloudFormation sees it: the expression (if any) and each metric it reads. */
interface AlarmShape {
  expression?: string;
  metrics: { id: string; namespace: string; metricName: string; dimensions: Record<string, unknown>; period: number; stat: string }[];
  threshold: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  comparison: string;
  missingData: string;
}

function alarmShape(template: Template, alarm: unknown): AlarmShape {
  const props = template.toJSON().Resources[logicalId(alarm as never)].Properties;
  type Query = { Id: string; Expression?: string; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Period: number; Stat: string } };
  const queries: Query[] = props.Metrics;
  return {
    ...(queries.find((q) => q.Expression) && { expression: queries.find((q) => q.Expression)!.Expression }),
    metrics: queries
      .filter((q) => q.MetricStat)
      .map((q) => ({
        id: q.Id,
        namespace: q.MetricStat!.Metric.Namespace,
        metricName: q.MetricStat!.Metric.MetricName,
        dimensions: Object.fromEntries(q.MetricStat!.Metric.Dimensions.map((d) => [d.Name, d.Value])),
        period: q.MetricStat!.Period,
        stat: q.MetricStat!.Stat,
      })),
    threshold: props.Threshold,
    evaluationPeriods: props.EvaluationPeriods,
    datapointsToAlarm: props.DatapointsToAlarm,
    comparison: props.ComparisonOperator,
    missingData: props.TreatMissingData,
  };
}

const STORES_DIR = path.join(__dirname, '..', '..', 'functions', 'stores');
const ALWAYS = { comparison: 'GreaterThanOrEqualToThreshold', missingData: 'notBreaching' };
const keygate = (credential: string, outcome: string) => ({ service: 'keygate', credential, outcome });

describe('KeygateStack: monitoring on by default', () => {
  let stack: KeygateStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthKeygateStack());
  });

  const shape = (name: KeygateAlarmName) => alarmShape(template, stack.monitoring!.alarms[name]);
  const fn = (key: 'apiKeyAuthorizer' | 'sessionAuthorizer') => ({ Ref: logicalId(stack.auth.functions[key]!) });
  const table = (which: 'keysTable' | 'sessionsTable') => ({ Ref: logicalId(stack.auth[which]!) });

  test('twelve alarms, no notification without a topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 12);
    expect(Object.keys(stack.monitoring!.alarms).sort()).toEqual(
      [
        'apiKeyAuthorizerErrors',
        'sessionAuthorizerErrors',
        'api5xxRate',
        'apiKeyAuthorizerLatency',
        'sessionAuthorizerLatency',
        'keysTableThrottles',
        'sessionsTableThrottles',
        'keysTableSystemErrors',
        'sessionsTableSystemErrors',
        'refusedKeysSurge',
        'revokedKeysSurge',
        'tamperedRecords',
      ].sort(),
    );
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.OKActions).toBeUndefined();
      expect(alarm.Properties.AlarmDescription).toMatch(/^keygate: .* Runbook: README, "Operating keygate", alarm \w+\.$/);
    }
  });

  test.each([
    ['apiKeyAuthorizerErrors', 'api_key', 'apiKeyAuthorizer'],
    ['sessionAuthorizerErrors', 'session_token', 'sessionAuthorizer'],
  ] as const)('%s: failed verifications plus Lambda throttles, sum per minute ≥ 1, one period', (name, credential, key) => {
    expect(shape(name)).toEqual({
      ...ALWAYS,
      expression: 'SUM([failed, throttled])',
      metrics: [
        { id: 'failed', namespace: 'keygate', metricName: 'Verifications', dimensions: keygate(credential, 'error'), period: 60, stat: 'Sum' },
        { id: 'throttled', namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions: { FunctionName: fn(key) }, period: 60, stat: 'Sum' },
      ],
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
  });

  test.each([
    ['apiKeyAuthorizerLatency', 'apiKeyAuthorizer'],
    ['sessionAuthorizerLatency', 'sessionAuthorizer'],
  ] as const)('%s: Lambda Duration p99 per 5 minutes ≥ 500 ms, three periods in a row', (name, key) => {
    expect(shape(name)).toEqual({
      ...ALWAYS,
      metrics: [{ id: 'm1', namespace: 'AWS/Lambda', metricName: 'Duration', dimensions: { FunctionName: fn(key) }, period: 300, stat: 'p99' }],
      threshold: 500,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });
  });

  test("api5xxRate: the stage's 5XXError average (the share of 5xx answers) per 5 minutes ≥ 5 %", () => {
    expect(shape('api5xxRate')).toEqual({
      ...ALWAYS,
      metrics: [
        {
          id: 'm1',
          namespace: 'AWS/ApiGateway',
          metricName: '5XXError',
          dimensions: { ApiName: `${stack.stackName}-api`, Stage: stack.resolve(stack.api.deploymentStage.stageName) },
          period: 300,
          stat: 'Average',
        },
      ],
      threshold: 0.05,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
  });

  test.each([
    ['keysTableThrottles', 'keysTable'],
    ['sessionsTableThrottles', 'sessionsTable'],
  ] as const)('%s: read plus write throttle events per 5 minutes ≥ 1', (name, which) => {
    expect(shape(name)).toEqual({
      ...ALWAYS,
      expression: 'SUM([read, write])',
      metrics: [
        { id: 'read', namespace: 'AWS/DynamoDB', metricName: 'ReadThrottleEvents', dimensions: { TableName: table(which) }, period: 300, stat: 'Sum' },
        { id: 'write', namespace: 'AWS/DynamoDB', metricName: 'WriteThrottleEvents', dimensions: { TableName: table(which) }, period: 300, stat: 'Sum' },
      ],
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
  });

  test.each([
    ['keysTableSystemErrors', 'keysTable'],
    ['sessionsTableSystemErrors', 'sessionsTable'],
  ] as const)('%s: SystemErrors of every operation keygate calls, per 5 minutes ≥ 1', (name, which) => {
    const ids = WATCHED_TABLE_OPERATIONS.map((operation) => operation.toLowerCase());
    expect(shape(name)).toEqual({
      ...ALWAYS,
      expression: `SUM([${ids.join(', ')}])`,
      metrics: WATCHED_TABLE_OPERATIONS.map((operation) => ({
        id: operation.toLowerCase(),
        namespace: 'AWS/DynamoDB',
        metricName: 'SystemErrors',
        dimensions: { Operation: operation, TableName: table(which) },
        period: 300,
        stat: 'Sum',
      })),
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
    // An alarm may read at most 10 metrics.
    expect(WATCHED_TABLE_OPERATIONS.length).toBeLessThanOrEqual(10);
  });

  test('refusedKeysSurge: API-key verifications of every refusing outcome per 5 minutes ≥ 500', () => {
    expect(shape('refusedKeysSurge')).toEqual({
      ...ALWAYS,
      expression: `SUM([${REFUSAL_OUTCOMES.join(', ')}])`,
      metrics: REFUSAL_OUTCOMES.map((outcome) => ({ id: outcome, namespace: 'keygate', metricName: 'Verifications', dimensions: keygate('api_key', outcome), period: 300, stat: 'Sum' })),
      threshold: 500,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
    expect(REFUSAL_OUTCOMES).toEqual(['malformed', 'not_found', 'expired', 'disabled', 'tampered']);
  });

  test('revokedKeysSurge: keys revoked by report per 5 minutes ≥ 5', () => {
    expect(shape('revokedKeysSurge')).toEqual({
      ...ALWAYS,
      metrics: [{ id: 'm1', namespace: 'keygate', metricName: 'KeysRevoked', dimensions: { service: 'keygate' }, period: 300, stat: 'Sum' }],
      threshold: 5,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
  });

  test('tamperedRecords: key and session items refused as tampered, both authorizers, per 5 minutes ≥ 1', () => {
    expect(shape('tamperedRecords')).toEqual({
      ...ALWAYS,
      expression: 'SUM([apiKey, session])',
      metrics: [
        { id: 'apiKey', namespace: 'keygate', metricName: 'Verifications', dimensions: keygate('api_key', 'tampered'), period: 300, stat: 'Sum' },
        { id: 'session', namespace: 'keygate', metricName: 'Verifications', dimensions: keygate('session_token', 'tampered'), period: 300, stat: 'Sum' },
      ],
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
  });

  test('the table alarms watch exactly the DynamoDB operations the stores call', () => {
    const operationOf: Record<string, string> = {
      GetCommand: 'GetItem',
      GetItemCommand: 'GetItem',
      PutCommand: 'PutItem',
      UpdateCommand: 'UpdateItem',
      UpdateItemCommand: 'UpdateItem',
      DeleteCommand: 'DeleteItem',
      QueryCommand: 'Query',
      BatchGetCommand: 'BatchGetItem',
      BatchWriteCommand: 'BatchWriteItem',
      TransactWriteCommand: 'TransactWriteItems',
      ScanCommand: 'Scan',
    };
    const called = new Set<string>();
    for (const file of readdirSync(STORES_DIR)) {
      // A command missing from the table above shows under its own name, and fails the comparison.
      for (const [, command] of readFileSync(path.join(STORES_DIR, file), 'utf8').matchAll(/new (\w+Command)\(/g)) called.add(operationOf[command!] ?? command!);
    }
    expect([...called].sort()).toEqual([...WATCHED_TABLE_OPERATIONS].sort());
  });

  test('no alarm or graph reads a metric by app', () => {
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).not.toMatch(/appUid/i);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).not.toMatch(/appUid/i);
  });

  test('the dashboard shows every alarm and the same figures, and its URL is a stack output', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = dashboardBody(template);
    const widgets = body.widgets as { type: string; properties: { title: string; alarms?: string[]; annotations?: { alarms?: string[] }; metrics?: unknown[] } }[];
    expect(body.start).toBe('-PT3H');
    const alarmIds = Object.values(stack.monitoring!.alarms).map((alarm) => logicalId(alarm));
    // The status widget lists all eleven alarms.
    expect(widgets[0]).toMatchObject({ type: 'alarm', properties: { title: 'keygate alarms' } });
    expect(widgets[0]!.properties.alarms!.map(refOf).sort()).toEqual([...alarmIds].sort());
    expect(widgets.map((widget) => widget.properties.title)).toEqual([
      'keygate alarms',
      'API-key authorizer: verifications by outcome (per 5 minutes)',
      'Session authorizer: verifications by outcome (per 5 minutes)',
      'Authorizer duration (Lambda, p50 and p99)',
      'Verification latency (p99, to a decision)',
      'API-key authorizer errors (per minute)',
      'Session authorizer errors (per minute)',
      'Refused API keys (per 5 minutes)',
      'Keys revoked by report (per 5 minutes)',
      'Tampered records refused (per 5 minutes)',
      'API requests (per 5 minutes)',
      'API 5xx rate',
      'Keys table: throttled requests',
      'Keys table: system errors',
      'Sessions table: throttled requests',
      'Sessions table: system errors',
      'Admin operations by operation and outcome (per 5 minutes)',
      'Revocation reports (per 5 minutes)',
      'lastUsedAt writes that failed (per 5 minutes)',
    ]);
    // Graphs of alarmed figures are the alarms' own metrics, threshold line included.
    const graphedAlarms = widgets.flatMap((widget) => widget.properties.annotations?.alarms ?? []).map(refOf);
    expect(graphedAlarms.sort()).toEqual(alarmIds.filter((id) => !/Latency/.test(id)).sort());
    const verifications = JSON.stringify(widgets[1]!.properties.metrics);
    for (const outcome of ['valid', ...REFUSAL_OUTCOMES, 'error']) expect(verifications).toContain(`"outcome","${outcome}"`);
    expect(JSON.stringify(widgets[16]!.properties.metrics)).toContain(`SEARCH('{\\"keygate\\",operation,outcome,service} MetricName=\\"AdminOperations\\"', 'Sum', 300)`);
    expect(JSON.stringify(widgets[17]!.properties.metrics)).toMatch(/RevocationReports.*KeysReported.*KeysRevoked/);
    expect(widgets[18]!.properties.metrics).toEqual([['keygate', 'LastUsedWriteFailures', 'service', 'keygate', { stat: 'Sum' }]]);
    expect(template.toJSON().Outputs.DashboardUrl.Value).toEqual({
      'Fn::Join': ['', ['https://console.aws.amazon.com/cloudwatch/home?region=', { Ref: 'AWS::Region' }, '#dashboards:name=', { Ref: logicalId(stack.monitoring!.dashboard) }]],
    });
  });
});

test('KeygateStack with an SNS topic notifies on alarm and on recovery; custom thresholds and namespace reach every alarm', () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const topicStack = new Stack(app, 'Topics');
  const topic = new sns.Topic(topicStack, 'Pager');
  const stack = new KeygateStack(app, 'KeygateTuned', {
    auth: { metricsNamespace: 'acme/keygate' },
    monitoring: {
      alarmTopic: topic,
      dashboardName: 'keygate-prod',
      authorizerErrorsThreshold: 3,
      api5xxRateThreshold: 0.01,
      authorizerLatencyP99Threshold: Duration.seconds(1),
      dynamoDbThrottlesThreshold: 10,
      dynamoDbSystemErrorsThreshold: 2,
      refusedKeysThreshold: 2000,
      revokedKeysThreshold: 1,
      tamperedRecordsThreshold: 3,
    },
  });
  const template = Template.fromStack(stack);
  const alarms = stack.monitoring!.alarms;
  const thresholdOf = (name: KeygateAlarmName) => alarmShape(template, alarms[name]).threshold;
  expect(Object.fromEntries((Object.keys(alarms) as KeygateAlarmName[]).map((name) => [name, thresholdOf(name)]))).toEqual({
    apiKeyAuthorizerErrors: 3,
    sessionAuthorizerErrors: 3,
    apiKeyAuthorizerLatency: 1000,
    sessionAuthorizerLatency: 1000,
    api5xxRate: 0.01,
    keysTableThrottles: 10,
    sessionsTableThrottles: 10,
    keysTableSystemErrors: 2,
    sessionsTableSystemErrors: 2,
    refusedKeysSurge: 2000,
    revokedKeysSurge: 1,
    tamperedRecords: 3,
  });
  for (const name of ['refusedKeysSurge', 'revokedKeysSurge', 'tamperedRecords'] as const) {
    expect(alarmShape(template, alarms[name]).metrics.every((metric) => metric.namespace === 'acme/keygate')).toBe(true);
  }
  for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
    expect(alarm.Properties.AlarmActions).toHaveLength(1);
    expect(alarm.Properties.OKActions).toEqual(alarm.Properties.AlarmActions);
    expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain(`Ref${logicalId(topic)}`);
  }
  template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'keygate-prod' });
  expect(JSON.stringify(dashboardBody(template))).toContain('{\\"acme/keygate\\",operation,outcome,service}');
});

test('KeygateStack with monitoring: false has no alarm, dashboard or dashboard output', () => {
  const { stack, template } = synthKeygateStack({ monitoring: false });
  expect(stack.monitoring).toBeUndefined();
  template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  expect(template.toJSON().Outputs.DashboardUrl).toBeUndefined();
});

test('with sessions off, nothing watches the absent session authorizer or sessions table', () => {
  const { stack } = synthKeygateStack({ auth: { enableSessions: false } });
  expect(Object.keys(stack.monitoring!.alarms).sort()).toEqual(
    ['api5xxRate', 'apiKeyAuthorizerErrors', 'apiKeyAuthorizerLatency', 'keysTableSystemErrors', 'keysTableThrottles', 'refusedKeysSurge', 'revokedKeysSurge', 'tamperedRecords'].sort(),
  );
});

describe('KeygateMonitoring next to a user\'s own API', () => {
  function build(props: Partial<KeygateMonitoringProps> = {}) {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'User');
    const auth = new KeygateAuth(stack, 'Auth');
    const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
    auth.addRoutes(api);
    return () => new KeygateMonitoring(stack, 'Monitoring', { auth, ...props });
  }

  test('without an API stage: every alarm but the API 5xx rate', () => {
    const monitoring = build()();
    expect(Object.keys(monitoring.alarms)).toHaveLength(11);
    expect(monitoring.alarms.api5xxRate).toBeUndefined();
  });

  test('the documented defaults', () => {
    expect(DEFAULT_ALARM_THRESHOLDS).toEqual({
      authorizerErrors: 1,
      api5xxRate: 0.05,
      authorizerLatencyP99: Duration.millis(500),
      dynamoDbThrottles: 1,
      dynamoDbSystemErrors: 1,
      refusedKeys: 500,
      revokedKeys: 5,
      tamperedRecords: 1,
    });
  });

  test.each<[string, Partial<KeygateMonitoringProps>, string]>([
    ['a zero threshold', { refusedKeysThreshold: 0 }, 'KeygateMonitoring: refusedKeysThreshold must be a number greater than 0, got 0'],
    ['a negative revocation threshold', { revokedKeysThreshold: -0.5 }, 'KeygateMonitoring: revokedKeysThreshold must be a number greater than 0, got -0.5'],
    ['a negative threshold', { authorizerErrorsThreshold: -1 }, 'KeygateMonitoring: authorizerErrorsThreshold must be a number greater than 0, got -1'],
    ['a rate above 1', { api5xxRateThreshold: 5 }, 'KeygateMonitoring: api5xxRateThreshold is a share of requests, between 0 and 1, got 5'],
    ['a rate without a stage', { api5xxRateThreshold: 0.1 }, 'KeygateMonitoring: api5xxRateThreshold needs apiStage'],
    ['a zero latency', { authorizerLatencyP99Threshold: Duration.millis(0) }, 'KeygateMonitoring: authorizerLatencyP99Threshold (ms) must be a number greater than 0, got 0'],
  ])('refuses %s', (_name, props, message) => {
    expect(build(props)).toThrow(new Error(message));
  });
});

/** The dashboard body with CloudFormation references replaced by `{ref:<logical id>}` strings. */
function dashboardBody(template: Template): Record<string, unknown> {
  const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
  const parts = dashboard.Properties.DashboardBody['Fn::Join'][1] as unknown[];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string; 'Fn::GetAtt'?: [string, string] }).Ref ?? (part as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt']?.[0];
      return `{ref:${ref}}`;
    })
    .join('');
  return JSON.parse(text) as Record<string, unknown>;
}

function refOf(value: string): string {
  return /^\{ref:(.+)\}$/.exec(value)?.[1] ?? value;
}
