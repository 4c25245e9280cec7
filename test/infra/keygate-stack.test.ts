import { Match, type Template } from 'aws-cdk-lib/assertions';
import { REVOKE_ROUTE, ROUTES, routeResourcePath, type AppRouteDefinition } from '../../lib/shared/routes';
import type { KeygateStack } from '../../lib/construct/keygate-stack';
import { logicalId, synthKeygateStack } from './infra-app';
import { ADMIN_FUNCTIONS, adminFunctionOutput, isSessionFunction } from '../../lib/shared/functions';

let stack: KeygateStack;
let template: Template;
beforeAll(() => {
  ({ stack, template } = synthKeygateStack());
});

/** The full path of an AWS::ApiGateway::Resource, walked up through its parents. */
function resourcePaths(): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const pathOf = (id: string): string => {
    const { ParentId, PathPart } = resources[id].Properties;
    const parent = ParentId.Ref as string | undefined;
    return parent && resources[parent] ? `${pathOf(parent)}/${PathPart}` : `/${PathPart}`;
  };
  return new Map(Object.keys(resources).map((id) => [pathOf(id), id]));
}

describe('REST API built from the route table', () => {
  test('one method per route, nothing else', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::ApiGateway::Method', ROUTES.length);
  });

  const appRoutes = ROUTES.filter((route): route is AppRouteDefinition => route.authorizer !== 'none');
  test.each(appRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))('%s: its path, authorizer and Lambda proxy integration', (_name, route) => {
    const resourceId = resourcePaths().get(routeResourcePath(route));
    expect(resourceId).toBeDefined();
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: route.method,
      ResourceId: { Ref: resourceId },
      AuthorizationType: 'CUSTOM',
      AuthorizerId: stack.resolve(stack.auth.authorizers[route.authorizer]!.authorizerId),
      Integration: {
        Type: 'AWS_PROXY',
        IntegrationHttpMethod: 'POST',
        Uri: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([{ 'Fn::GetAtt': [logicalId(stack.auth.functions[route.function]!), 'Arn'] }])]) }),
      },
    });
  });

  test('POST /api/v1/keys/revoke: public (no authorizer, no API key), outside every app path, a Lambda proxy integration', () => {
    const resourceId = resourcePaths().get('/api/v1/keys/revoke');
    expect(resourceId).toBeDefined();
    const methods = template.findResources('AWS::ApiGateway::Method', { Properties: { ResourceId: { Ref: resourceId } } });
    expect(Object.values(methods).map((method) => method.Properties)).toEqual([
      expect.objectContaining({
        HttpMethod: 'POST',
        AuthorizationType: 'NONE',
        ApiKeyRequired: false,
        Integration: expect.objectContaining({
          Type: 'AWS_PROXY',
          Uri: expect.objectContaining({ 'Fn::Join': expect.arrayContaining([expect.arrayContaining([{ 'Fn::GetAtt': [logicalId(stack.auth.functions.revokeKeys!), 'Arn'] }])]) }),
        }),
      }),
    ]);
    // Every other method sits behind an authorizer.
    const others = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((method) => method.Properties.ResourceId.Ref !== resourceId);
    expect(others.map((method) => method.Properties.AuthorizationType)).toEqual(ROUTES.filter((r) => r !== REVOKE_ROUTE).map(() => 'CUSTOM'));
  });

  test('API Gateway may invoke each route function and each authorizer, and nothing else', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    const invoked = new Set(permissions.map((p) => p.Properties.FunctionName['Fn::GetAtt'][0]));
    const expected = new Set([...ROUTES.map((r) => r.function), 'apiKeyAuthorizer', 'sessionAuthorizer'].map((k) => logicalId(stack.auth.functions[k as keyof typeof stack.auth.functions]!)));
    expect(invoked).toEqual(expected);
    for (const p of permissions) expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
  });

  // API Gateway's validation message quotes the rejected value, so a key sent in the wrong field would be
  // echoed in the 400 and its logs. The sdkusers/auth function validates the body and names only the field.
  test('no API Gateway body validation or gateway response can echo a rejected value', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
    template.resourceCountIs('AWS::ApiGateway::Model', 0);
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.RequestModels).toBeUndefined();
    }
    for (const response of Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'))) {
      expect(JSON.stringify(response.Properties)).not.toContain('validationErrorString');
    }
  });
});

describe('stage', () => {
  test('throttled, the public revoke route much lower than the rest, with JSON access logs that carry no header', () => {
    template.resourceCountIs('AWS::ApiGateway::Stage', 1);
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0].Properties;
    expect(stage.StageName).toBe('prod');
    expect(stage.MethodSettings).toEqual([
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 }),
      // API Gateway's method-setting path: '/' in the resource path escaped as '~1'. Data tracing stays off: the body carries keys.
      { HttpMethod: 'POST', ResourcePath: '/~1api~1v1~1keys~1revoke', ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5, DataTraceEnabled: false },
    ]);
    expect(stage.AccessLogSetting.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ApiAccessLogs/), 'Arn'] });
    const format = JSON.parse(stage.AccessLogSetting.Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      resourcePath: '$context.resourcePath',
      principalId: '$context.authorizer.principalId',
      authorizerError: '$context.authorizer.error',
    });
    expect(stage.AccessLogSetting.Format).not.toMatch(/request\.header|identity\.apiKey|validationErrorString/);
  });

  test('no account-wide CloudWatch role is created', () => {
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.resourceCountIs('AWS::IAM::Role', Object.keys(stack.auth.functions).length);
  });

  test('throttling limits are stack props, the revoke route\'s a construct prop', () => {
    const { template: custom } = synthKeygateStack({ throttlingRateLimit: 5, throttlingBurstLimit: 10, auth: { revokeThrottling: { rateLimit: 0.5, burstLimit: 2 } } });
    custom.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({ ResourcePath: '/*', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
        Match.objectLike({ ResourcePath: '/~1api~1v1~1keys~1revoke', HttpMethod: 'POST', ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 2 }),
      ],
    });
  });
});

/** The stack's own outputs, without the `ApiEndpoint...` one RestApi adds by itself. */
const ownOutputs = (outputs: Record<string, unknown>) => Object.keys(outputs).filter((name) => !name.startsWith('ApiEndpoint')).sort();

test('outputs: API URL, admin function names (read by the CLI) and table names', () => {
  const outputs = template.findOutputs('*');
  expect(outputs.ApiUrl.Value).toEqual(stack.resolve(stack.api.url));
  for (const id of ADMIN_FUNCTIONS) expect(outputs[adminFunctionOutput(id)]!.Value).toEqual({ Ref: logicalId(stack.auth.functions[id]!) });
  expect(outputs.CreateKeyFunctionName.Value).toEqual({ Ref: logicalId(stack.auth.createKeyFunction) });
  expect(outputs.RevokeSessionsFunctionName.Value).toEqual({ Ref: logicalId(stack.auth.revokeSessionsFunction!) });
  expect(outputs.KeysTableName.Value).toEqual({ Ref: logicalId(stack.auth.keysTable) });
  expect(outputs.SessionsTableName.Value).toEqual({ Ref: logicalId(stack.auth.sessionsTable!) });
  expect(outputs.UsersTableName.Value).toEqual({ Ref: logicalId(stack.auth.usersTable!) });
  expect(ownOutputs(outputs)).toEqual(['ApiUrl', 'DashboardUrl', 'KeysTableName', 'SessionsTableName', 'UsersTableName', ...ADMIN_FUNCTIONS.map(adminFunctionOutput)].sort());
});

test('with sessions off: no session route, no session outputs; the API-key half and its admin functions are all there', () => {
  const { stack: keysOnly, template: keysOnlyTemplate } = synthKeygateStack({ auth: { enableSessions: false } });
  keysOnlyTemplate.resourceCountIs('AWS::ApiGateway::Method', ROUTES.filter((route) => !isSessionFunction(route.function)).length);
  keysOnlyTemplate.resourceCountIs('AWS::DynamoDB::Table', 1);
  const outputs = keysOnlyTemplate.findOutputs('*');
  expect(ownOutputs(outputs)).toEqual(
    ['ApiUrl', 'DashboardUrl', 'KeysTableName', ...ADMIN_FUNCTIONS.filter((id) => !isSessionFunction(id)).map(adminFunctionOutput)].sort(),
  );
  expect(keysOnly.auth.sessionsEnabled).toBe(false);
});

describe('AWS WAF in front of the stage', () => {
  test('on by default: 3000 requests per IP per 5 minutes, attached to the prod stage', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: [Match.objectLike({ Statement: { RateBasedStatement: { Limit: 3000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } })],
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: stack.resolve(stack.api.deploymentStage.stageArn),
      WebACLArn: { 'Fn::GetAtt': [logicalId(stack.auth.webAcl!), 'Arn'] },
    });
    expect(JSON.stringify(stack.resolve(stack.api.deploymentStage.stageArn))).toMatch(new RegExp(`${logicalId(stack.api.deploymentStage)}|/stages/prod`));
  });

  test('the web ACL protects the stage that carries the public revoke route and its own method throttling; both stay', () => {
    const [stageId, stage] = Object.entries(template.findResources('AWS::ApiGateway::Stage'))[0]!;
    expect(stageId).toBe(logicalId(stack.api.deploymentStage));
    expect(stage.Properties.MethodSettings).toContainEqual(expect.objectContaining({ HttpMethod: 'POST', ResourcePath: '/~1api~1v1~1keys~1revoke', ThrottlingRateLimit: 1 }));
    const associations = Object.values(template.findResources('AWS::WAFv2::WebACLAssociation'));
    expect(associations.map((association) => association.Properties.ResourceArn)).toEqual([stack.resolve(stack.api.deploymentStage.stageArn)]);
    expect(associations[0]!.DependsOn).toContain(stageId);
  });

  test('auth.perIpRateLimit sets the limit; 0 turns WAF off', () => {
    const custom = synthKeygateStack({ auth: { perIpRateLimit: 12_000 } }).template;
    custom.hasResourceProperties('AWS::WAFv2::WebACL', { Rules: [Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 12_000 }) } })] });
    const off = synthKeygateStack({ auth: { perIpRateLimit: 0 } }).template;
    off.resourceCountIs('AWS::WAFv2::WebACL', 0);
    off.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });
});
