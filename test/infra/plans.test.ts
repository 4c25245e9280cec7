import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '../../lib/shared/environment';
import { DEFAULT_PLANS, type PlanDefinition } from '../../lib/shared/plans';
import { REVOKE_ROUTE, ROUTES } from '../../lib/shared/routes';
import type { FunctionId } from '../../lib/shared/functions';
import { KeygateAuth, type KeygateAuthProps } from '../../lib/construct/keygate-auth';
import { actionsOf, cdkJsonContext, logicalId, roleOf, synthKeygateStack, type Statement } from './infra-app';
import { gatewayResponseCorsHeaders } from '../../lib/shared/cors';

/** Plans (issue 17): usage plans, the API key source, apiKeyRequired, 429 gateway responses, least privilege. */
const PLANS: PlanDefinition[] = [
  { name: 'small', rateLimit: 5, burstLimit: 5, quota: { limit: 1000, period: 'DAY' } },
  { name: 'large', rateLimit: 500, burstLimit: 1000, methodThrottles: { 'POST /sdkusers/auth': { rateLimit: 50, burstLimit: 100 } } },
];

function synthWithPlans(props: KeygateAuthProps = { plans: PLANS, defaultPlan: 'small' }) {
  const stack = new Stack(new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } }), 'UserStack');
  const auth = new KeygateAuth(stack, 'Auth', props);
  const api = new apigateway.RestApi(stack, 'UserApi', { cloudWatchRole: false });
  api.root.addResource('health').addMethod('GET');
  const own = api.root.resourceForPath('/api/v1/appuid/{appUid}/orders').addMethod('GET', new apigateway.MockIntegration(), auth.apiKeyMethodOptions);
  const methods = auth.addRoutes(api);
  return { stack, auth, api, own, methods, template: Template.fromStack(stack) };
}

/** A CloudFormation string as deployed, references shown as `<LogicalId>`. */
function rendered(value: unknown): string {
  if (typeof value === 'string') return value;
  const { Ref, 'Fn::Join': join } = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (Ref !== undefined) return `<${Ref}>`;
  return join![1].map(rendered).join(join![0]);
}

describe('KeygateAuth with plans', () => {
  let synth: ReturnType<typeof synthWithPlans>;
  beforeAll(() => {
    synth = synthWithPlans();
  });
  const planId = (name: string) => logicalId(synth.auth.usagePlans[name]!);

  test('one usage plan per plan, with its rate, burst and quota, bound to the API stage', () => {
    const { template, api } = synth;
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    const small = template.toJSON().Resources[planId('small')].Properties;
    expect(small).toMatchObject({
      UsagePlanName: 'UserStack-small',
      Throttle: { RateLimit: 5, BurstLimit: 5 },
      Quota: { Limit: 1000, Period: 'DAY' },
      ApiStages: [{ ApiId: { Ref: logicalId(api) }, Stage: { Ref: logicalId(api.deploymentStage) } }],
    });
    const large = template.toJSON().Resources[planId('large')].Properties;
    expect(large.Quota).toBeUndefined();
    expect(large.Throttle).toEqual({ RateLimit: 500, BurstLimit: 1000 });
    // Per-method limits are keyed by resource path and verb, as API Gateway names methods.
    expect(large.ApiStages[0].Throttle).toEqual({ '/api/v1/appuid/{appUid}/sdkusers/auth/POST': { RateLimit: 50, BurstLimit: 100 } });
  });

  test('the API takes API keys from the authorizer (key source AUTHORIZER)', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
  });

  test('every keygate method behind an authorizer requires an API key, and so do methods of yours behind the authorizers; the public revoke route and others do not', () => {
    const { template, stack, methods, own } = synth;
    expect(methods).toHaveLength(ROUTES.length);
    const properties = (method: apigateway.Method) => template.toJSON().Resources[logicalId(method)].Properties;
    ROUTES.forEach((route, index) => expect([route.path, properties(methods[index]!).ApiKeyRequired]).toEqual([route.path, route.authorizer !== 'none']));
    expect(properties(own).ApiKeyRequired).toBe(true);
    // The revoke route takes no credential, so no app's key: requiring one would lock reporters out.
    expect(properties(methods[ROUTES.indexOf(REVOKE_ROUTE)]!)).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: false });
    const health = Object.values(template.findResources('AWS::ApiGateway::Method')).find((method) => method.Properties.AuthorizationType === 'NONE' && method.Properties.HttpMethod === 'GET')!;
    expect(health.Properties.ApiKeyRequired).toBeUndefined();
    expect(synth.auth.apiKeyMethodOptions.apiKeyRequired).toBe(true);
    expect(synth.auth.sessionMethodOptions!.apiKeyRequired).toBe(true);
    expect(stack.resolve(synth.auth.sessionMethodOptions!.authorizer!.authorizerId)).toBeDefined();
  });

  test('throttled and over-quota requests get 429 gateway responses (throttled with Retry-After), never a 5xx', () => {
    const { template, api } = synth;
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map((response) => response.Properties);
    expect(responses).toEqual([
      { ResponseType: 'THROTTLED', StatusCode: '429', RestApiId: { Ref: logicalId(api) }, ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" } },
      { ResponseType: 'QUOTA_EXCEEDED', StatusCode: '429', RestApiId: { Ref: logicalId(api) }, ResponseParameters: {} },
    ]);
  });

  test('with CORS for session routes, the 429 answers carry the CORS headers too (their own response type replaces DEFAULT_4XX), as the local gateway sends them', () => {
    const cors = synthWithPlans({ plans: PLANS, defaultPlan: 'small', corsAllowedOrigins: ['https://app.example.com'] });
    const responses = Object.values(cors.template.findResources('AWS::ApiGateway::GatewayResponse')).map((response) => response.Properties);
    const corsHeaders = { 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'", 'gatewayresponse.header.Vary': "'Origin'" };
    for (const type of ['THROTTLED', 'QUOTA_EXCEEDED', 'DEFAULT_4XX', 'DEFAULT_5XX']) {
      expect(responses.find((response) => response.ResponseType === type)).toMatchObject({ ResponseParameters: corsHeaders });
    }
    expect(gatewayResponseCorsHeaders(['https://app.example.com'], 'https://other.example.com')).toEqual({ 'Access-Control-Allow-Origin': 'https://app.example.com', Vary: 'Origin' });
  });

  test('set-app-plan, create-key and import-keys are told the usage plan ids and the default plan; no other function is', () => {
    const { template, auth } = synth;
    const env = (key: FunctionId) => template.toJSON().Resources[logicalId(auth.functions[key]!)].Properties.Environment?.Variables ?? {};
    for (const key of ['setAppPlan', 'createKey', 'importKeys'] as const) {
      expect(JSON.parse(rendered(env(key)[ENV.usagePlans]))).toEqual({ small: `<${planId('small')}>`, large: `<${planId('large')}>` });
      expect(env(key)[ENV.defaultPlan]).toBe('small');
    }
    for (const key of Object.keys(auth.functions) as FunctionId[]) {
      if (key !== 'setAppPlan' && key !== 'createKey' && key !== 'importKeys') expect(env(key)[ENV.usagePlans]).toBeUndefined();
    }
  });

  describe('least privilege for the functions that manage gateway keys', () => {
    const apigw = (path: string) => `arn:<AWS::Partition>:apigateway:<AWS::Region>::${path}`;
    const gatewayStatements = () => [
      { Sid: 'CreateGatewayKeys', Action: 'apigateway:POST', Resource: [apigw('/apikeys')] },
      { Sid: 'DeleteGatewayKeys', Action: 'apigateway:DELETE', Resource: [apigw('/apikeys/*')] },
      { Sid: 'AddGatewayKeysToPlans', Action: 'apigateway:POST', Resource: [apigw(`/usageplans/<${planId('small')}>/keys`), apigw(`/usageplans/<${planId('large')}>/keys`)].sort() },
      { Sid: 'RemoveGatewayKeysFromPlans', Action: 'apigateway:DELETE', Resource: [apigw(`/usageplans/<${planId('small')}>/keys/*`), apigw(`/usageplans/<${planId('large')}>/keys/*`)].sort() },
    ];
    const statementsOf = (key: FunctionId, template = synth.template, auth = synth.auth) =>
      roleOf(template, logicalId(auth.functions[key]!)).statements.filter((statement) => !actionsOf(statement).every((action) => action.startsWith('logs:')));
    const apiGatewayPart = (statements: Statement[]) =>
      statements
        .filter((statement) => actionsOf(statement).some((action) => action.startsWith('apigateway:')))
        .map((statement) => ({ Sid: statement.Sid, Action: statement.Action, Resource: [statement.Resource].flat().map(rendered).sort() }));

    test('set-app-plan: POST and DELETE on API keys and on these usage plans\' keys, nothing else of API Gateway', () => {
      expect(apiGatewayPart(statementsOf('setAppPlan'))).toEqual(gatewayStatements());
    });

    test('set-app-plan: the app registry, its key items (Query), reading hash items and writing their gatewayKey and seal, its activity events, nothing more', () => {
      const keys = { 'Fn::GetAtt': [logicalId(synth.auth.keysTable), 'Arn'] };
      const dynamodb = statementsOf('setAppPlan').filter((statement) => actionsOf(statement).some((action) => action.startsWith('dynamodb:')));
      expect(dynamodb).toEqual([
        { Sid: 'AppRegistry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: keys, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['apps'] } } },
        { Sid: 'QueryAppKeys', Effect: 'Allow', Action: 'dynamodb:Query', Resource: keys, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['app#*'] } } },
        { Sid: 'ReadKeyHashItems', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: keys, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['hash#*'] } } },
        {
          Sid: 'SetGatewayKeyOnHashItems',
          Effect: 'Allow',
          Action: 'dynamodb:UpdateItem',
          Resource: keys,
          Condition: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['hash#*'] },
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'gatewayKey', 'seal'] },
          },
        },
        { Sid: 'AppendEvents', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: keys, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['app#*'] } } },
      ]);
      // And the pepper, to reseal.
      expect(statementsOf('setAppPlan')).toHaveLength(dynamodb.length + gatewayStatements().length + 1);
      expect(statementsOf('setAppPlan').find((statement) => statement.Sid === 'ReadPepper')).toMatchObject({ Action: 'secretsmanager:GetSecretValue' });
    });

    test('create-key with a default plan may put an app on it: the same API Gateway statements and reads the registry', () => {
      const statements = statementsOf('createKey');
      expect(apiGatewayPart(statements)).toEqual(gatewayStatements());
      expect(statements.find((statement) => statement.Sid === 'GetAppRegistry')).toMatchObject({ Action: 'dynamodb:GetItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['apps'] } } });
      expect(statements.find((statement) => statement.Sid === 'SetGatewayKeyOnHashItems')).toBeDefined();
      expect(statements.find((statement) => statement.Sid === 'ReadKeyHashItems')).toMatchObject({ Action: 'dynamodb:GetItem' });
    });

    test('create-key and import-keys without a default plan have no API Gateway access; no other function has any', () => {
      const other = synthWithPlans({ plans: PLANS });
      expect(apiGatewayPart(statementsOf('createKey', other.template, other.auth))).toEqual([]);
      expect(apiGatewayPart(statementsOf('importKeys', other.template, other.auth))).toEqual([]);
      expect(apiGatewayPart(statementsOf('setAppPlan', other.template, other.auth))).toHaveLength(4);
      for (const key of Object.keys(synth.auth.functions) as FunctionId[]) {
        if (key !== 'setAppPlan' && key !== 'createKey' && key !== 'importKeys') expect(apiGatewayPart(statementsOf(key))).toEqual([]);
      }
    });
  });

  test('AwsSolutions checks find nothing in the construct with plans (the user\'s own API is theirs to configure)', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.stack);
    const ours = report.violations.flatMap((v) => v.violatingResources.filter((r) => r.constructPath?.startsWith('UserStack/Auth/')).map((r) => `${v.ruleName} at ${r.constructPath}`));
    expect(ours).toEqual([]);
  });
});

describe('KeygateAuth plans validation', () => {
  const make = (props: KeygateAuthProps) => () => synthWithPlans(props);
  test.each<[string, KeygateAuthProps, string]>([
    ['two plans with one name', { plans: [PLANS[0]!, PLANS[0]!] }, "KeygateAuth: plans[1].name: two plans are called 'small'"],
    ['a bad name', { plans: [{ ...PLANS[0]!, name: 'a plan' }] }, "KeygateAuth: plans[0].name must be 1-64 letters, digits, _ or -, got 'a plan'"],
    ['rate 0', { plans: [{ ...PLANS[0]!, rateLimit: 0 }] }, 'KeygateAuth: plans[0].rateLimit must be a number of requests per second greater than 0, got 0'],
    ['a fractional burst', { plans: [{ ...PLANS[0]!, burstLimit: 1.5 }] }, 'KeygateAuth: plans[0].burstLimit must be a whole number of requests of at least 1, got 1.5'],
    ['a yearly quota', { plans: [{ ...PLANS[0]!, quota: { limit: 5, period: 'YEAR' as 'DAY' } }] }, "KeygateAuth: plans[0].quota.period must be one of DAY, WEEK, MONTH, got 'YEAR'"],
    ['a zero quota', { plans: [{ ...PLANS[0]!, quota: { limit: 0, period: 'DAY' } }] }, 'KeygateAuth: plans[0].quota.limit must be a whole number of requests of at least 1, got 0'],
    [
      'a throttle for no route',
      { plans: [{ ...PLANS[0]!, methodThrottles: { 'GET /nope': { rateLimit: 1, burstLimit: 1 } } }] },
      "KeygateAuth: plans[0].methodThrottles: 'GET /nope' is not a keygate route; the routes are 'GET /whoami', 'POST /sdkusers/auth', 'GET /sdkusers/me'",
    ],
    ['a default that is no plan', { plans: PLANS, defaultPlan: 'gold' }, "KeygateAuth: defaultPlan 'gold' is not one of the plans (small, large)"],
    ['a default without plans', { defaultPlan: 'small' }, "KeygateAuth: defaultPlan 'small' needs plans"],
  ])('%s', (_name, props, message) => {
    expect(make(props)).toThrow(new Error(message));
  });

  test('an API that takes keys from the x-api-key header cannot carry plans', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const auth = new KeygateAuth(stack, 'Auth', { plans: PLANS });
    const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false, apiKeySourceType: apigateway.ApiKeySourceType.HEADER });
    expect(() => auth.addRoutes(api)).toThrow(
      new Error("KeygateAuth: plans need the API's apiKeySourceType to be AUTHORIZER (keygate's authorizer supplies each app's gateway key), but S/Api sets HEADER"),
    );
  });

  test('with sessions off, a plan may not throttle a session route (it is not deployed); the other routes still bind', () => {
    const throttled = { plans: [{ ...PLANS[0]!, methodThrottles: { 'POST /sdkusers/auth': { rateLimit: 1, burstLimit: 1 } } }], enableSessions: false };
    expect(make(throttled)).toThrow(new Error("KeygateAuth: plans[0].methodThrottles: 'POST /sdkusers/auth' is not a keygate route; the routes are 'GET /whoami'"));
    const { template, methods } = synthWithPlans({ plans: [{ ...PLANS[0]!, methodThrottles: { 'GET /whoami': { rateLimit: 1, burstLimit: 1 } } }], enableSessions: false });
    expect(methods).toHaveLength(2);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { ApiStages: [{ Throttle: { '/api/v1/appuid/{appUid}/whoami/GET': { RateLimit: 1, BurstLimit: 1 } } }] });
  });

  test('a plan may not throttle the public revoke route: no plan applies to it', () => {
    expect(make({ plans: [{ ...PLANS[0]!, methodThrottles: { 'POST /api/v1/keys/revoke': { rateLimit: 1, burstLimit: 1 } } }] })).toThrow(/'POST \/api\/v1\/keys\/revoke' is not a keygate route/);
  });

  test('plans without addRoutes() fail validation, naming why', () => {
    const auth = new KeygateAuth(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S'), 'Auth', { plans: PLANS });
    expect(auth.node.validate()).toEqual(['KeygateAuth: plans are set but addRoutes() was never called, so no usage plan is bound to an API stage']);
  });
});

describe('KeygateStack turns plans on', () => {
  test('the default tiers (free, standard, premium), free for new apps, and outputs naming get-app and set-app-plan', () => {
    const { stack, template } = synthKeygateStack();
    expect(Object.keys(stack.auth.usagePlans)).toEqual(DEFAULT_PLANS.map((plan) => plan.name));
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', DEFAULT_PLANS.length);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 10, BurstLimit: 20 }, Quota: { Limit: 10000, Period: 'DAY' } });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
    const createKey = template.toJSON().Resources[logicalId(stack.auth.createKeyFunction)].Properties.Environment.Variables;
    expect(createKey[ENV.defaultPlan]).toBe('free');
    const outputs = template.findOutputs('*');
    expect(outputs.GetAppFunctionName!.Value).toEqual({ Ref: logicalId(stack.auth.getAppFunction) });
    expect(outputs.SetAppPlanFunctionName!.Value).toEqual({ Ref: logicalId(stack.auth.setAppPlanFunction) });
  });

  test('plans: [] turns them off; your own plans come without a default unless you name one', () => {
    const off = synthKeygateStack({ auth: { plans: [] } });
    off.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    for (const method of Object.values(off.template.findResources('AWS::ApiGateway::Method'))) expect(method.Properties.ApiKeyRequired).not.toBe(true);
    const own = synthKeygateStack({ auth: { plans: PLANS } });
    own.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    expect(own.template.toJSON().Resources[logicalId(own.stack.auth.createKeyFunction)].Properties.Environment.Variables[ENV.defaultPlan]).toBeUndefined();
  });
});
