import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalGateway } from '../../lib/local/gateway';
import type { LambdaHandler } from '../../lib/local/lambda-runtime';
import type { FunctionId } from '../../lib/shared/functions';
import { ROUTES } from '../../lib/shared/routes';

/**
 * The local gateway's CORS, as the construct deploys it with
 * `corsAllowedOrigins` (test/infra/cors.test.ts checks the two agree):
 * preflights on session routes only, origins on gateway responses. Node's
 * fetch sends any Origin header, so each case is one plain request; the real
 * browser cases are in test/e2e/console-browser.test.ts.
 */
const A = 'http://127.0.0.1:5173';
const B = 'https://b.example';
const EVIL = 'https://evil.example';

const allow = async (event: unknown) => {
  const [apiArn, stage] = (event as { methodArn: string }).methodArn.split('/', 2);
  return {
    principalId: 'p',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${apiArn}/${stage}/*/api/v1/appuid/app1/*` }] },
    context: { appUid: 'app1' },
  };
};

const handlers: Partial<Record<FunctionId, LambdaHandler>> = {
  apiKeyAuthorizer: allow,
  sessionAuthorizer: async (event) => {
    if ((event as { headers: Record<string, string> }).headers.authorization !== 'Bearer good') throw new Error('Unauthorized');
    return allow(event);
  },
  whoami: async () => ({ statusCode: 200, body: '{}' }),
  sdkUsersMe: async () => ({ statusCode: 200, body: '{}' }),
};

async function gateway(corsAllowedOrigins?: readonly string[]): Promise<{ url: string; server: Server }> {
  const server = createLocalGateway({ routes: ROUTES, handlers, ...(corsAllowedOrigins && { corsAllowedOrigins }) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/appuid/app1` };
}

const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function started(origins?: readonly string[]): Promise<string> {
  const { server, url } = await gateway(origins);
  servers.push(server);
  return url;
}

const cors = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'));

const preflight = (url: string, origin: string, requestHeaders = 'authorization') =>
  fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': requestHeaders } });

describe('with one allowed origin', () => {
  let base: string;
  beforeAll(async () => {
    base = await started([A]);
  });

  test('the session route answers its preflight: 204, the origin, Authorization allowed, GET only', async () => {
    const response = await preflight(`${base}/sdkusers/me`, A);
    expect(response.status).toBe(204);
    expect(cors(response)).toEqual({
      'access-control-allow-origin': A,
      'access-control-allow-headers': 'Authorization,Content-Type',
      'access-control-allow-methods': 'GET',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  test('a preflight from another origin gets the allowed origin, not its own (the browser then refuses)', async () => {
    const response = await preflight(`${base}/sdkusers/me`, EVIL);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(A);
  });

  test.each(['whoami', 'sdkusers/auth'])('the x-api-key route %s has no preflight: 403 Missing Authentication Token', async (route) => {
    const response = await preflight(`${base}/${route}`, A, 'x-api-key');
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
    expect(response.headers.get('access-control-allow-headers')).toBeNull();
  });

  test("gateway responses (a session route's 401) carry the allowed origin, whoever asks", async () => {
    for (const origin of [A, EVIL]) {
      const response = await fetch(`${base}/sdkusers/me`, { headers: { origin, authorization: 'Bearer bad' } });
      expect(response.status).toBe(401);
      expect(cors(response)).toEqual({ 'access-control-allow-origin': A, vary: 'Origin' });
    }
  });

  test('an answer from a key route integration carries no CORS header', async () => {
    const response = await fetch(`${base}/whoami`, { headers: { origin: A, 'x-api-key': 'k' } });
    expect(response.status).toBe(200);
    expect(cors(response)).toEqual({});
  });
});

test('with several origins, each gets its own origin on preflights; gateway responses echo the request origin', async () => {
  const base = await started([A, B]);
  for (const origin of [A, B]) expect((await preflight(`${base}/sdkusers/me`, origin)).headers.get('access-control-allow-origin')).toBe(origin);
  expect((await preflight(`${base}/sdkusers/me`, EVIL)).headers.get('access-control-allow-origin')).toBe(A);
  const denied = await fetch(`${base}/sdkusers/me`, { headers: { origin: B, authorization: 'Bearer bad' } });
  expect(cors(denied)).toEqual({ 'access-control-allow-origin': B, vary: 'Origin' });
  const noOrigin = await fetch(`${base}/sdkusers/me`, { headers: { authorization: 'Bearer bad' } });
  expect(cors(noOrigin)).toEqual({ vary: 'Origin' });
});

test('without origins (the default) nothing answers CORS: OPTIONS is 403 and no answer names an origin', async () => {
  const base = await started();
  const response = await preflight(`${base}/sdkusers/me`, A);
  expect(response.status).toBe(403);
  expect(cors(response)).toEqual({});
  expect(cors(await fetch(`${base}/sdkusers/me`, { headers: { origin: A, authorization: 'Bearer bad' } }))).toEqual({});
});
