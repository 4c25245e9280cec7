import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionId } from '../../lib/shared/functions';
import { createLocalGateway, parseProxyResult } from '../../lib/local/gateway';
import type { LambdaHandler } from '../../lib/local/lambda-runtime';
import { authorizerDefinitions, ROUTES } from '../../lib/shared/routes';
import { UsagePlanEnforcer } from '../../lib/local/usage-plans';

/**
 * The local API Gateway's REST semantics, driven with small fake handlers over
 * real HTTP: identity source, authorizer outcomes, policy evaluation, proxy
 * events and results.
 */
const METHOD_ARN_PREFIX = 'arn:aws:execute-api:us-east-1:123456789012:local/local';

function allowApp(appUid: string, context: Record<string, unknown> = { appUid, keyId: 'key_1', role: 'app-owner' }) {
  return async (event: { methodArn: string }) => {
    const [apiArn, stage] = event.methodArn.split('/', 2);
    return {
      principalId: 'key_1',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${apiArn}/${stage}/*/api/v1/appuid/${appUid}/*` }] },
      context,
    };
  };
}

let server: Server;
let baseUrl: string;
let handlers: Partial<Record<FunctionId, LambdaHandler>>;
let calls: { name: FunctionId; event: any }[];
const log: string[] = [];

function spy(name: FunctionId, impl: (event: any) => unknown): LambdaHandler {
  return async (event) => {
    calls.push({ name, event });
    return impl(event);
  };
}

beforeAll(async () => {
  server = createLocalGateway({
    routes: ROUTES,
    // Resolved per request, so each test sets its own handlers.
    handlers: new Proxy({} as Partial<Record<FunctionId, LambdaHandler>>, { get: (_, name) => handlers[name as FunctionId] }),
    integrationTimeoutMs: 300,
    log: (line) => log.push(line),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
});

beforeEach(() => {
  calls = [];
  handlers = {
    apiKeyAuthorizer: spy('apiKeyAuthorizer', allowApp('app1')),
    sessionAuthorizer: spy('sessionAuthorizer', allowApp('app1', { appUid: 'app1', userId: 'usr_1' })),
    whoami: spy('whoami', (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event.requestContext.authorizer) })),
    sdkUsersAuth: spy('sdkUsersAuth', (event) => ({ statusCode: 200, body: event.body })),
    sdkUsersMe: spy('sdkUsersMe', () => ({ statusCode: 200, body: '{}' })),
  };
});

async function get(path: string, headers: Record<string, string> = { 'x-api-key': 'k' }, method = 'GET', body?: string) {
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  const json = () => JSON.parse(text);
  return { status: response.status, headers: response.headers, text, get json() { return json(); } };
}

describe('routing', () => {
  test('an unknown path is 403 Missing Authentication Token, with no function invoked', async () => {
    const response = await get('/api/v1/appuid/app1/nope');
    expect(response.status).toBe(403);
    expect(response.json).toEqual({ message: 'Missing Authentication Token' });
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(calls).toEqual([]);
  });

  test('a known path with another method is 403 Missing Authentication Token too', async () => {
    expect((await get('/api/v1/appuid/app1/whoami', { 'x-api-key': 'k' }, 'POST', '{}')).status).toBe(403);
    expect((await get('/api/v1/appuid/app1/sdkusers/auth')).json).toEqual({ message: 'Missing Authentication Token' });
    expect(calls).toEqual([]);
  });

  test('the route under the base path without an appUid is not a route', async () => {
    expect((await get('/api/v1/appuid//whoami')).status).toBe(403);
    expect((await get('/whoami')).status).toBe(403);
  });
});

test('a body over 10 MB is 413 RequestTooLarge, and the function is never called; one just under is passed on', async () => {
  const limit = 10 * 1024 * 1024;
  const tooLarge = await get('/api/v1/appuid/app1/sdkusers/auth', { 'x-api-key': 'k' }, 'POST', 'x'.repeat(limit + 1));
  expect(tooLarge).toMatchObject({ status: 413, json: { message: 'Request Too Long' } });
  expect(calls.map((call) => call.name)).not.toContain('sdkUsersAuth');
  const fits = await get('/api/v1/appuid/app1/sdkusers/auth', { 'x-api-key': 'k' }, 'POST', 'x'.repeat(limit));
  expect(fits.status).toBe(200);
  expect(fits.text.length).toBe(limit);
});

describe('loopback only', () => {
  test.each(['attacker.example', 'attacker.example:3000', '127.0.0.1.attacker.example'])('a foreign Host %j (DNS rebinding) is 403 Forbidden, nothing invoked', async (host) => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${baseUrl}/api/v1/appuid/app1/whoami`, { headers: { host, 'x-api-key': 'k' } });
      req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode)));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(calls).toEqual([]);
  });

  test('localhost is accepted', async () => {
    const response = await fetch(`${baseUrl.replace('127.0.0.1', 'localhost')}/api/v1/appuid/app1/whoami`, { headers: { 'x-api-key': 'k' } });
    expect(response.status).toBe(200);
  });
});

describe('identity source', () => {
  test('a missing identity header is 401 without invoking the authorizer', async () => {
    const response = await get('/api/v1/appuid/app1/whoami', {});
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ message: 'Unauthorized' });
    expect(response.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
    expect(calls).toEqual([]);
  });

  test('an empty identity header is 401 without invoking the authorizer', async () => {
    expect((await get('/api/v1/appuid/app1/whoami', { 'x-api-key': '' })).status).toBe(401);
    expect(calls).toEqual([]);
  });

  test('the session route takes its identity from Authorization, not x-api-key', async () => {
    expect((await get('/api/v1/appuid/app1/sdkusers/me', { 'x-api-key': 'k' })).status).toBe(401);
    expect(calls).toEqual([]);
    expect((await get('/api/v1/appuid/app1/sdkusers/me', { authorization: 'Bearer t' })).status).toBe(200);
    expect(calls.map((call) => call.name)).toEqual(['sessionAuthorizer', 'sdkUsersMe']);
  });
});

describe('identity sources and base path from the settings', () => {
  let configured: Server;
  let configuredUrl: string;
  beforeAll(async () => {
    configured = createLocalGateway({
      routes: ROUTES,
      basePath: '/keygate',
      authorizers: authorizerDefinitions({ apiKeyHeader: 'x-customer-key', acceptBearerKeys: true }),
      handlers: new Proxy({} as Partial<Record<FunctionId, LambdaHandler>>, { get: (_, name) => handlers[name as FunctionId] }),
    });
    await new Promise<void>((resolve) => configured.listen(0, '127.0.0.1', resolve));
    configuredUrl = `http://127.0.0.1:${(configured.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => {
      configured.close(resolve);
      configured.closeAllConnections();
    });
  });

  test('routes live below the configured base path only', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', async (event) => ({ ...(await allowApp('app1')(event)), policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${METHOD_ARN_PREFIX}/*/*` }] } }));
    expect((await fetch(`${configuredUrl}/keygate/whoami`, { headers: { 'x-customer-key': 'k' } })).status).toBe(200);
    expect(calls.at(-1)?.event.resource).toBe('/keygate/whoami');
    expect((await fetch(`${configuredUrl}/api/v1/appuid/app1/whoami`, { headers: { 'x-customer-key': 'k' } })).status).toBe(403);
  });

  test('with two possible key headers there is no identity source: the authorizer runs even without a credential', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', () => {
      throw new Error('Unauthorized');
    });
    expect((await fetch(`${configuredUrl}/keygate/whoami`)).status).toBe(401);
    expect(calls.map((call) => call.name)).toEqual(['apiKeyAuthorizer']);
  });

  test('the session route still requires Authorization', async () => {
    expect((await fetch(`${configuredUrl}/keygate/sdkusers/me`, { headers: { 'x-customer-key': 'k' } })).status).toBe(401);
    expect(calls).toEqual([]);
  });
});

describe('authorizer outcomes', () => {
  test('thrown Unauthorized is 401 and the integration is not invoked', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', () => {
      throw new Error('Unauthorized');
    });
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ message: 'Unauthorized' });
    expect(calls.map((call) => call.name)).toEqual(['apiKeyAuthorizer']);
  });

  test('an Allow for another app is 403 (implicit deny), integration not invoked', async () => {
    const response = await get('/api/v1/appuid/app2/whoami');
    expect(response.status).toBe(403);
    expect(response.json).toEqual({ message: 'User is not authorized to access this resource' });
    expect(response.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(calls.map((call) => call.name)).toEqual(['apiKeyAuthorizer']);
  });

  test('an explicit Deny is 403 with API Gateway’s explicit-deny message, even next to a broader Allow', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', () => ({
      principalId: 'p',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' },
          { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: `${METHOD_ARN_PREFIX}/GET/api/v1/appuid/app1/whoami` },
        ],
      },
    }));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(403);
    expect(response.json).toEqual({ message: 'User is not authorized to access this resource with an explicit deny' });
    expect(calls.map((call) => call.name)).toEqual(['apiKeyAuthorizer']);
  });

  test('an Allow for another method of the same path is 403', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', () => ({
      principalId: 'p',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${METHOD_ARN_PREFIX}/POST/*` }] },
    }));
    expect((await get('/api/v1/appuid/app1/whoami')).status).toBe(403);
  });

  test.each([
    ['any other error', () => Promise.reject(new Error('DynamoDB is down'))],
    ['a lower-case unauthorized', () => Promise.reject(new Error('unauthorized'))],
    ['no principalId', () => ({ policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] } })],
    ['no policy', () => ({ principalId: 'p' })],
    ['a statement without Effect', () => ({ principalId: 'p', policyDocument: { Statement: [{ Action: 'execute-api:Invoke', Resource: '*' }] } })],
    ['a context with an object value', () => ({ principalId: 'p', policyDocument: { Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] }, context: { nested: { a: 1 } } })],
    ['null', () => null],
    ['a string', () => 'Allow'],
  ])('authorizer %s is 500 {"message": null}, integration not invoked', async (_, impl) => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', impl as () => unknown);
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(500);
    expect(response.text).toBe('{"message":null}');
    expect(response.headers.get('x-amzn-errortype')).toBe('AuthorizerConfigurationException');
    expect(calls.map((call) => call.name)).toEqual(['apiKeyAuthorizer']);
  });

  test('the authorizer is invoked on every request: no result caching', async () => {
    await get('/api/v1/appuid/app1/whoami');
    await get('/api/v1/appuid/app1/whoami');
    expect(calls.filter((call) => call.name === 'apiKeyAuthorizer')).toHaveLength(2);
  });
});

describe('events', () => {
  test('the REQUEST authorizer event', async () => {
    await get('/api/v1/appuid/app1/whoami?a=1&a=2&b=x%20y', { 'X-Api-Key': 'the-key', 'User-Agent': 'jest' });
    const event = calls[0]!.event;
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: `${METHOD_ARN_PREFIX}/GET/api/v1/appuid/app1/whoami`,
      resource: '/api/v1/appuid/{appUid}/whoami',
      path: '/api/v1/appuid/app1/whoami',
      httpMethod: 'GET',
      queryStringParameters: { a: '2', b: 'x y' },
      multiValueQueryStringParameters: { a: ['1', '2'], b: ['x y'] },
      pathParameters: { appUid: 'app1' },
      stageVariables: null,
      requestContext: { resourcePath: '/api/v1/appuid/{appUid}/whoami', httpMethod: 'GET', stage: 'local', accountId: '123456789012', apiId: 'local', path: '/local/api/v1/appuid/app1/whoami' },
    });
    // Header names as the client sent them.
    expect(event.headers['X-Api-Key']).toBe('the-key');
    expect(event.multiValueHeaders['X-Api-Key']).toEqual(['the-key']);
    expect(event.requestContext.identity.userAgent).toBe('jest');
    expect(typeof event.requestContext.requestId).toBe('string');
  });

  test('the proxy event carries the authorizer context as strings, plus principalId', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', allowApp('app1', { appUid: 'app1', count: 3, admin: false }));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ appUid: 'app1', count: '3', admin: 'false', principalId: 'key_1' });
    const event = calls[1]!.event;
    expect(event).toMatchObject({ resource: '/api/v1/appuid/{appUid}/whoami', pathParameters: { appUid: 'app1' }, body: null, isBase64Encoded: false });
  });

  test('a path parameter is URL-decoded', async () => {
    await get('/api/v1/appuid/a%2Db/whoami');
    expect(calls[0]!.event.pathParameters).toEqual({ appUid: 'a-b' });
  });

  test.each(['constructor', '__proto__', 'hasOwnProperty', 'toString'])('a header and a query parameter named %s are plain values, not a 500', async (name) => {
    // fetch drops a header named __proto__; node:http sends it as given.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${baseUrl}/api/v1/appuid/app1/whoami?${name}=1&${name}=2&x=3`);
      req.setHeader('x-api-key', 'k');
      req.setHeader(name, 'h');
      req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode)));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(calls).toHaveLength(2);
    for (const { event } of calls) {
      expect(Object.getOwnPropertyDescriptor(event.headers, name)?.value).toBe('h');
      expect(Object.getOwnPropertyDescriptor(event.multiValueHeaders, name)?.value).toEqual(['h']);
      expect(Object.getOwnPropertyDescriptor(event.queryStringParameters, name)?.value).toBe('2');
      expect(Object.getOwnPropertyDescriptor(event.multiValueQueryStringParameters, name)?.value).toEqual(['1', '2']);
      expect(event.queryStringParameters.x).toBe('3');
    }
  });

  test('an authorizer context key named __proto__ or constructor reaches the integration as a plain value', async () => {
    handlers.apiKeyAuthorizer = spy('apiKeyAuthorizer', allowApp('app1', JSON.parse('{"appUid":"app1","__proto__":"p","constructor":"c"}')));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(200);
    const authorizer = calls[1]!.event.requestContext.authorizer;
    expect(Object.getOwnPropertyDescriptor(authorizer, '__proto__')?.value).toBe('p');
    expect(Object.getOwnPropertyDescriptor(authorizer, 'constructor')?.value).toBe('c');
  });

  test('a POST body reaches the integration as text', async () => {
    const response = await get('/api/v1/appuid/app1/sdkusers/auth', { 'x-api-key': 'k', 'content-type': 'application/json' }, 'POST', '{"externalId":"u1"}');
    expect(response.status).toBe(200);
    expect(response.text).toBe('{"externalId":"u1"}');
  });
});

describe('the public revoke route', () => {
  test('is served without a credential and without invoking any authorizer; its event has no authorizer context and no path parameters', async () => {
    handlers.revokeKeys = spy('revokeKeys', (event) => ({ statusCode: 202, body: JSON.stringify({ received: JSON.parse(event.body).keys.length }) }));
    const response = await get('/api/v1/keys/revoke', { 'content-type': 'application/json' }, 'POST', JSON.stringify({ keys: ['a', 'b'] }));
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ received: 2 });
    expect(calls.map((call) => call.name)).toEqual(['revokeKeys']);
    const { event } = calls[0]!;
    expect(event).toMatchObject({ resource: '/api/v1/keys/revoke', path: '/api/v1/keys/revoke', httpMethod: 'POST', pathParameters: null });
    expect(event.requestContext.authorizer).toBeUndefined();
    expect(event.requestContext.resourcePath).toBe('/api/v1/keys/revoke');
  });

  test('a key header does not turn it into an authorized route, and GET is not a route', async () => {
    handlers.revokeKeys = spy('revokeKeys', () => ({ statusCode: 202, body: '{"received":1}' }));
    expect((await get('/api/v1/keys/revoke', { 'x-api-key': 'k' }, 'POST', '{"keys":["x"]}')).status).toBe(202);
    expect((await get('/api/v1/keys/revoke', {}, 'GET')).json).toEqual({ message: 'Missing Authentication Token' });
    expect(calls.map((call) => call.name)).toEqual(['revokeKeys']);
  });
});

describe('proxy results', () => {
  test('status, single and multi-value headers, and a base64 body', async () => {
    handlers.whoami = spy('whoami', () => ({
      statusCode: 201,
      headers: { 'content-type': 'text/plain', 'x-one': 1 },
      multiValueHeaders: { 'x-many': ['a', 'b'] },
      body: Buffer.from('héllo').toString('base64'),
      isBase64Encoded: true,
    }));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(201);
    expect(response.text).toBe('héllo');
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(response.headers.get('x-one')).toBe('1');
    expect(response.headers.get('x-many')).toBe('a, b');
  });

  test('no content-type: API Gateway answers application/json', async () => {
    handlers.whoami = spy('whoami', () => ({ statusCode: 204 }));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(204);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  test.each([
    ['throws', () => Promise.reject(new Error('boom'))],
    ['returns no statusCode', () => ({ body: 'x' })],
    ['returns a string statusCode', () => ({ statusCode: '200', body: 'x' })],
    ['returns an object body', () => ({ statusCode: 200, body: { a: 1 } })],
    ['returns an unknown key', () => ({ statusCode: 200, body: 'x', extra: true })],
    ['returns undefined', () => undefined],
  ])('an integration that %s is 502 Internal server error', async (_, impl) => {
    handlers.whoami = spy('whoami', impl as () => unknown);
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(502);
    expect(response.json).toEqual({ message: 'Internal server error' });
  });

  test('an integration slower than the timeout is 504', async () => {
    handlers.whoami = spy('whoami', () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 1000).unref()));
    const response = await get('/api/v1/appuid/app1/whoami');
    expect(response.status).toBe(504);
    expect(response.json).toEqual({ message: 'Endpoint request timed out' });
  });

  test('parseProxyResult accepts the minimal result', () => {
    expect(parseProxyResult({ statusCode: 200 })).toEqual({ statusCode: 200, headers: [], body: Buffer.alloc(0) });
  });
});

test('the log names method, path and status, never header values', async () => {
  log.length = 0;
  await get('/api/v1/appuid/app1/whoami', { 'x-api-key': 'kg_super_secret_value' });
  expect(log.join('\n')).toContain('GET /api/v1/appuid/app1/whoami 200');
  expect(log.join('\n')).not.toContain('kg_super_secret_value');
});

describe('usage plans (keygate plans on)', () => {
  let planned: Server;
  let plannedUrl: string;
  let seen: any[];

  beforeAll(async () => {
    const keys: Record<string, { id: string; enabled: boolean; usagePlanIds: string[] }> = { 'gw-value-1': { id: 'gwkey1', enabled: true, usagePlanIds: ['p1'] } };
    const usagePlans = new UsagePlanEnforcer(
      [{ definition: { name: 'tiny', rateLimit: 0.001, burstLimit: 2, quota: { limit: 100, period: 'DAY' } }, usagePlanId: 'p1' }],
      { byValue: (value) => keys[value] },
    );
    const withKey = (value: string | undefined) => async (event: { methodArn: string }) => ({ ...(await allowApp('app1')(event)), ...(value && { usageIdentifierKey: value }) });
    planned = createLocalGateway({
      routes: ROUTES,
      handlers: {
        apiKeyAuthorizer: async (event: any) => withKey(event.headers['x-api-key'] === 'no-plan' ? undefined : event.headers['x-api-key'])(event),
        whoami: async (event: any) => {
          seen.push(event);
          return { statusCode: 200, body: '{}' };
        },
      },
      usagePlans,
    });
    await new Promise<void>((resolve) => planned.listen(0, '127.0.0.1', resolve));
    plannedUrl = `http://127.0.0.1:${(planned.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => {
      planned.close(resolve);
      planned.closeAllConnections();
    });
  });

  beforeEach(() => {
    seen = [];
  });

  const call = (key: string) => fetch(`${plannedUrl}/api/v1/appuid/app1/whoami`, { headers: { 'x-api-key': key } });

  test('the integration sees the gateway key as requestContext.identity.apiKey and apiKeyId, as API Gateway passes them', async () => {
    expect((await call('gw-value-1')).status).toBe(200);
    expect(seen[0].requestContext.identity).toMatchObject({ apiKey: 'gw-value-1', apiKeyId: 'gwkey1' });
  });

  test('past the burst: 429 Too Many Requests with Retry-After and TooManyRequestsException, the integration not invoked', async () => {
    // The burst is 2 and the test above took one token; the bucket refills at one per 1000 s.
    const responses = [await call('gw-value-1'), await call('gw-value-1')];
    expect(responses[0]!.status).toBe(200);
    const last = responses[1]!;
    expect(last.status).toBe(429);
    expect(await last.json()).toEqual({ message: 'Too Many Requests' });
    expect(last.headers.get('retry-after')).toBe('1');
    expect(last.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    expect(seen).toHaveLength(1);
  });

  test('an Allow without a usageIdentifierKey, or with one in no plan: 403 Forbidden (INVALID_API_KEY), the integration not invoked', async () => {
    for (const key of ['no-plan', 'unknown-gateway-key']) {
      const response = await call(key);
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ message: 'Forbidden' });
      expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    }
    expect(seen).toEqual([]);
  });
});
