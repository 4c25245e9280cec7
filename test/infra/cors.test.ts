import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KeygateAuth, type AddRoutesOptions, type KeygateAuthProps } from '../../lib/construct/keygate-auth';
import { preflightHeaders, SESSION_CORS_ALLOW_HEADERS } from '../../lib/shared/cors';
import { ENV } from '../../lib/shared/environment';
import { cdkJsonContext, logicalId, synthKeygateStack } from './infra-app';

/**
 * CORS for the session routes only (DESIGN §4): what `corsAllowedOrigins`
 * deploys, checked on the synthesized template, and that the local gateway's
 * answers (lib/shared/cors.ts) are the deployed mock integration's.
 */
function synth(props: KeygateAuthProps, routes: AddRoutesOptions = {}, more: (auth: KeygateAuth, api: apigateway.RestApi) => void = () => undefined) {
  const stack = new Stack(new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } }), 'UserStack');
  const auth = new KeygateAuth(stack, 'Auth', props);
  const api = new apigateway.RestApi(stack, 'UserApi', { cloudWatchRole: false });
  auth.addRoutes(api, routes);
  more(auth, api);
  return { stack, auth, api, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: any }>;
const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;

/** OPTIONS methods by the path part of their resource (e.g. `sdkusers/me`). */
function optionsMethods(template: Template): Record<string, any> {
  const resources = resourcesOf(template);
  const found: Record<string, any> = {};
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::ApiGateway::Method' || resource.Properties.HttpMethod !== 'OPTIONS') continue;
    const pathPart = (id: string): string => {
      const r = resources[id]!;
      const parent = r.Properties.ParentId.Ref as string | undefined;
      return parent && resources[parent]?.Type === 'AWS::ApiGateway::Resource' ? `${pathPart(parent)}/${r.Properties.PathPart}` : r.Properties.PathPart;
    };
    found[pathPart(resource.Properties.ResourceId.Ref)] = resource.Properties;
  }
  return found;
}

function corsEnvironment(template: Template): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [id, resource] of Object.entries(resourcesOf(template))) {
    const value = resource.Type === 'AWS::Lambda::Function' ? resource.Properties.Environment?.Variables?.[ENV.corsAllowedOrigins] : undefined;
    if (value !== undefined) found[id] = value;
  }
  return found;
}

test('by default no route answers CORS: no OPTIONS method, no gateway response, no origins in any function', () => {
  const { template, auth } = synth({});
  expect(optionsMethods(template)).toEqual({});
  template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 0);
  expect(corsEnvironment(template)).toEqual({});
  expect(auth.corsAllowedOrigins).toEqual([]);
});

describe('one allowed origin', () => {
  const origin = 'https://app.example.com';
  let template: Template;
  let auth: KeygateAuth;
  beforeAll(() => {
    ({ template, auth } = synth({ corsAllowedOrigins: [origin] }));
  });

  test('only the session route gets a preflight: a mock integration, no authorizer, the headers of lib/shared/cors.ts', () => {
    const methods = optionsMethods(template);
    expect(Object.keys(methods)).toEqual(['api/v1/appuid/{appUid}/sdkusers/me']);
    const preflight = methods['api/v1/appuid/{appUid}/sdkusers/me'];
    expect(preflight).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: false, Integration: { Type: 'MOCK' } });
    const [response] = preflight.Integration.IntegrationResponses;
    expect(response.StatusCode).toBe('204');
    // The local gateway's preflight for the same request is exactly the deployed one.
    const deployed = Object.fromEntries(Object.entries(response.ResponseParameters as Record<string, string>).map(([name, value]) => [name.replace('method.response.header.', ''), value.replace(/^'|'$/g, '')]));
    expect(deployed).toEqual(preflightHeaders([origin], ['GET'], origin));
    expect(deployed['Access-Control-Allow-Headers']).toBe(SESSION_CORS_ALLOW_HEADERS.join(','));
    expect(deployed['Access-Control-Allow-Headers']).not.toMatch(/x-api-key/i);
    // One origin: nothing to choose, so no template overriding it.
    expect(response.ResponseTemplates).toBeUndefined();
  });

  test('the x-api-key routes get no OPTIONS method and their functions never learn the origins', () => {
    expect(Object.keys(optionsMethods(template)).filter((path) => /whoami|sdkusers\/auth/.test(path))).toEqual([]);
    expect(corsEnvironment(template)).toEqual({ [logicalId(auth.functions.sdkUsersMe!)]: origin });
  });

  test("API Gateway's own 4xx and 5xx answers carry the origin, so a page can read a 401", () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': `'${origin}'`, 'gatewayresponse.header.Vary': "'Origin'" },
      });
    }
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 2);
  });
});

test('several origins: the preflight answers the caller its own origin only if listed; gateway responses echo the request origin', () => {
  const origins = ['https://a.example', 'http://localhost:5173', 'https://b.example:8443'];
  const { template } = synth({ corsAllowedOrigins: origins });
  const [response] = optionsMethods(template)['api/v1/appuid/{appUid}/sdkusers/me'].Integration.IntegrationResponses;
  expect(response.ResponseParameters['method.response.header.Access-Control-Allow-Origin']).toBe("'https://a.example'");
  const vtl: string = response.ResponseTemplates['application/json'];
  expect(vtl).toContain('$origin == "http://localhost:5173" || $origin == "https://b.example:8443"');
  expect(vtl).toContain('#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)');
  template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
    ResponseType: 'DEFAULT_4XX',
    ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin', 'gatewayresponse.header.Vary': "'Origin'" },
  });
  const envs = Object.values(corsEnvironment(template));
  expect(envs).toEqual([origins.join(',')]);
});

test('repeated origins are listed once', () => {
  const { auth } = synth({ corsAllowedOrigins: ['https://a.example', 'https://a.example'] });
  expect(auth.corsAllowedOrigins).toEqual(['https://a.example']);
});

test('corsGatewayResponses: false leaves the API\'s gateway responses alone', () => {
  const { template } = synth({ corsAllowedOrigins: ['https://a.example'] }, { corsGatewayResponses: false });
  template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 0);
  expect(Object.keys(optionsMethods(template))).toEqual(['api/v1/appuid/{appUid}/sdkusers/me']);
});

test('under an addRoutes parent, the preflight sits on the session route below it', () => {
  const stack = new Stack(new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } }), 'UserStack');
  const auth = new KeygateAuth(stack, 'Auth', { corsAllowedOrigins: ['https://a.example'] });
  const api = new apigateway.RestApi(stack, 'UserApi', { cloudWatchRole: false });
  auth.addRoutes(api, { parent: api.root.addResource('v2') });
  expect(Object.keys(optionsMethods(Template.fromStack(stack)))).toEqual(['v2/api/v1/appuid/{appUid}/sdkusers/me']);
});

test('addSessionCorsPreflight puts the same preflight on a resource of the user; nothing without origins', () => {
  let added: apigateway.Method | undefined;
  const { template } = synth({ corsAllowedOrigins: ['https://a.example'] }, {}, (auth, api) => {
    added = auth.addSessionCorsPreflight(api.root.resourceForPath('/api/v1/appuid/{appUid}/profile'), ['GET', 'PUT']);
  });
  expect(added).toBeInstanceOf(apigateway.Method);
  const methods = optionsMethods(template);
  expect(methods['api/v1/appuid/{appUid}/profile'].Integration.IntegrationResponses[0].ResponseParameters['method.response.header.Access-Control-Allow-Methods']).toBe("'GET,PUT'");

  let none: apigateway.Method | undefined;
  synth({}, {}, (auth, api) => {
    none = auth.addSessionCorsPreflight(api.root.resourceForPath('/x'));
  });
  expect(none).toBeUndefined();
});

test.each([
  ['*', "KeygateAuth: corsAllowedOrigins: '*' is not allowed: list the origins of the pages that use sessions"],
  ['https://app.example.com/', "KeygateAuth: corsAllowedOrigins: 'https://app.example.com/' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)"],
  ['https://app.example.com/path', "KeygateAuth: corsAllowedOrigins: 'https://app.example.com/path' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)"],
  ['HTTPS://App.example.com', "KeygateAuth: corsAllowedOrigins: 'HTTPS://App.example.com' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)"],
  ['ftp://app.example.com', "KeygateAuth: corsAllowedOrigins: 'ftp://app.example.com' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)"],
  ['app.example.com', "KeygateAuth: corsAllowedOrigins: 'app.example.com' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)"],
  ['https://app.example.com:70000', "KeygateAuth: corsAllowedOrigins: 'https://app.example.com:70000' has a port above 65535"],
])('refuses the origin %j', (origin, message) => {
  expect(() => synth({ corsAllowedOrigins: [origin] })).toThrow(message);
});

test('corsAllowedOrigins with sessions off is refused: only session routes answer CORS, and there are none', () => {
  expect(() => synth({ enableSessions: false, corsAllowedOrigins: ['https://app.example.com'] })).toThrow(
    new Error('KeygateAuth: corsAllowedOrigins configures sessions, which enableSessions: false turns off'),
  );
});

test('the stack with CORS on: no unacknowledged cdk-nag finding; APIG4 acknowledged only on the preflight and the public revoke route', () => {
  const { stack } = synthKeygateStack({ auth: { corsAllowedOrigins: ['https://app.example.com'] } });
  const report = new AwsSolutionsChecks().validateScope(stack);
  expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  const apig4 = stack.node
    .findAll()
    .filter((construct) => construct.node.metadata.some((entry) => JSON.stringify(entry.data ?? '').includes('AwsSolutions-APIG4')))
    .map((construct) => construct.node.path);
  expect(apig4).toEqual([expect.stringMatching(/sdkusers\/me\/OPTIONS$/), expect.stringMatching(/keys\/revoke\/POST$/)]);
});
