import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { credentialFormat } from '../../functions/domain/credential-format';
import { connectAdmin, POINT_AT_A_STACK, type AdminClient } from '../../lib/admin/admin-client';
import { SECURITY_HEADERS, SESSION_COOKIE, startConsole, STATIC_DIR, type ConsoleServer } from '../../lib/admin/console/server';
import { newLambdaApiSecret } from '../../lib/local/home';
import { createLocalLambdaApi } from '../../lib/local/lambda-api';

/**
 * The console server's security and API over real HTTP, in front of the
 * local Lambda Invoke API with small admin functions that record their
 * inputs (the browser tests in test/e2e run it against `npm start`).
 */
const API_KEY = 'kg_consoleTestKeyconsoleTestKeyconsoleTestKey0000000';

let home: string;
let lambdaApi: Server;
let admin: AdminClient;
let consoleServer: ConsoleServer;
const invoked: { fn: string; input: any }[] = [];
/** The reads of the app registry, apart: the tests above count what the functions were asked to do. */
const registryReads: { fn: string; input: any }[] = [];
const logLines: string[] = [];

function fail(errorType: string, message: string) {
  const error = new Error(message);
  error.name = errorType;
  return error;
}

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'keygate-console-'));
  lambdaApi = createLocalLambdaApi({
    secret: newLambdaApiSecret(home),
    functions: {
      'create-key': async (input) => {
        invoked.push({ fn: 'create-key', input });
        const { name } = input as { name: string };
        if (name === 'crash') throw new TypeError("Cannot read properties of undefined (reading 'x')\n    at handler (/var/task/index.mjs:1:1)");
        if (!name) throw fail('ValidationError', 'name must not be empty');
        return { keyId: 'key_AAAAAAAAAAAAAAAAAAAA', apiKey: API_KEY, appUid: (input as { appUid: string }).appUid, name, displayPrefix: 'kg_consoleT', createdAt: '2026-01-01T00:00:00.000Z' };
      },
      'list-keys': async (input) => {
        invoked.push({ fn: 'list-keys', input });
        return { keys: [] };
      },
      'get-app': async (input) => {
        registryReads.push({ fn: 'get-app', input });
        const { appUid } = input as { appUid: string };
        if (appUid !== 'app1') throw fail('AppNotFound', `app ${appUid} not found: it has no keys`);
        return { appUid, createdAt: '2026-01-01T00:00:00.000Z', keyCount: 1 };
      },
      'list-apps': async (input) => {
        registryReads.push({ fn: 'list-apps', input });
        return { apps: [{ appUid: 'app1', createdAt: '2026-01-01T00:00:00.000Z', keyCount: 1 }], nextToken: 'apps2' };
      },
      'delete-key': async (input) => {
        invoked.push({ fn: 'delete-key', input });
        const { appUid, keyId } = input as { appUid: string; keyId: string };
        throw fail('KeyNotFound', `key ${keyId} not found in app ${appUid}`);
      },
    },
  });
  await new Promise<void>((resolve) => lambdaApi.listen(0, '127.0.0.1', resolve));
  writeFileSync(
    path.join(home, 'local.json'),
    JSON.stringify({
      lambdaEndpoint: `http://127.0.0.1:${(lambdaApi.address() as AddressInfo).port}`,
      region: 'us-east-1',
      functions: { createKey: 'create-key', listKeys: 'list-keys', deleteKey: 'delete-key', getApp: 'get-app', listApps: 'list-apps' },
    }),
  );
  admin = await connectAdmin({}, { KEYGATE_HOME: home });
  consoleServer = await startConsole({ admin, port: 0, startPath: '/apps/app1/keys', log: (line) => logLines.push(line) });
});

afterAll(async () => {
  await consoleServer?.close();
  admin?.destroy();
  lambdaApi.closeAllConnections();
  await new Promise((resolve) => lambdaApi.close(resolve));
  rmSync(home, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request (node:http, so Host and Origin can be anything). */
function send(method: string, target: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(target, consoleServer.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: url.port, method, path: `${url.pathname}${url.search}`, headers: { host: url.host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let cookie: string;
const signedIn = (headers: Record<string, string> = {}) => ({ cookie, ...headers });
const ownOrigin = () => ({ origin: consoleServer.origin, 'content-type': 'application/json' });

describe('the one-time token', () => {
  test('the printed URL is on loopback and carries a 256-bit token', () => {
    expect(consoleServer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apps\/app1\/keys\?token=[A-Za-z0-9_-]{43}$/);
  });

  test('without it every route is 401 and calls nothing', async () => {
    for (const [method, target] of [
      ['GET', '/'],
      ['GET', '/apps/app1/keys'],
      ['GET', '/static/console.js'],
      ['GET', '/api/info'],
      ['GET', '/api/apps/app1/keys'],
      ['POST', '/api/apps/app1/keys'],
      ['DELETE', '/api/apps/app1/keys/key_AAAAAAAAAAAAAAAAAAAA'],
    ]) {
      const answer = await send(method!, target!, method === 'GET' ? {} : ownOrigin(), method === 'POST' ? '{"name":"x"}' : undefined);
      expect([method, target, answer.status]).toEqual([method, target, 401]);
    }
    expect(await send('GET', '/?token=not-the-token')).toMatchObject({ status: 401 });
    expect(await send('GET', '/', { cookie: `${SESSION_COOKIE}=guess` })).toMatchObject({ status: 401 });
    expect(invoked).toEqual([]);
  });

  test('exchanged once for an HttpOnly SameSite=Strict cookie, dropped from the address; a second use is 401', async () => {
    const url = new URL(consoleServer.url);
    const exchange = await send('GET', `${url.pathname}${url.search}`);
    expect(exchange.status).toBe(303);
    expect(exchange.headers.location).toBe('/apps/app1/keys');
    const setCookie = (exchange.headers['set-cookie'] as string[])[0]!;
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/$`));
    cookie = setCookie.split(';')[0]!;
    // The cookie is not the token.
    expect(cookie).not.toContain(url.searchParams.get('token'));

    expect(await send('GET', `${url.pathname}${url.search}`)).toMatchObject({ status: 401 });
    // A browser that already has the cookie and opens the link again is simply let in.
    expect(await send('GET', `${url.pathname}${url.search}`, signedIn())).toMatchObject({ status: 303, headers: { location: '/apps/app1/keys' } });

    const page = await send('GET', '/apps/app1/keys', signedIn());
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>API key management');
  });
});

describe('Host and Origin', () => {
  test('a foreign Host (DNS rebinding) is refused before anything else, even with the cookie', async () => {
    const port = new URL(consoleServer.origin).port;
    for (const host of [`evil.example:${port}`, `localhost:${port}`, '127.0.0.1', `127.0.0.1:${Number(port) + 1}`]) {
      const answer = await send('GET', '/api/apps/app1/keys', signedIn({ host }));
      expect([host, answer.status]).toEqual([host, 421]);
    }
    expect(invoked).toEqual([]);
  });

  test('a state-changing request from another origin, or with none, is refused and writes nothing', async () => {
    const body = JSON.stringify({ name: 'csrf' });
    const port = Number(new URL(consoleServer.origin).port);
    for (const origin of ['https://evil.example', `http://127.0.0.1:${port + 1}`, `http://localhost:${port}`, 'null']) {
      const answer = await send('POST', '/api/apps/app1/keys', signedIn({ origin, 'content-type': 'application/json' }), body);
      expect([origin, answer.status]).toEqual([origin, 403]);
    }
    expect((await send('POST', '/api/apps/app1/keys', signedIn({ 'content-type': 'application/json' }), body)).status).toBe(403);
    expect((await send('DELETE', '/api/apps/app1/keys/key_AAAAAAAAAAAAAAAAAAAA', signedIn({ origin: 'https://evil.example' }))).status).toBe(403);
    // Reads from another origin too, and any API call the browser marks as not same-origin.
    expect((await send('GET', '/api/apps/app1/keys', signedIn({ origin: 'https://evil.example' }))).status).toBe(403);
    expect((await send('GET', '/api/apps/app1/keys', signedIn({ 'sec-fetch-site': 'same-site' }))).status).toBe(403);
    expect(invoked).toEqual([]);
  });
});

test('every answer, refusals included, carries the strict CSP, no-referrer and no-store', async () => {
  const answers = [
    await send('GET', '/'),
    await send('GET', '/', signedIn({ host: 'evil.example' })),
    await send('GET', '/apps/app1/keys', signedIn()),
    await send('GET', '/static/console.js', signedIn()),
    await send('GET', '/api/apps/app1/keys', signedIn()),
  ];
  for (const answer of answers) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(answer.headers[name.toLowerCase()]).toBe(value);
  }
  const csp = SECURITY_HEADERS['Content-Security-Policy']!;
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
});

describe('the API', () => {
  test('create: the path names the app and the console who asked, whatever the body says; the key is in the answer and never in the log', async () => {
    const answer = await send('POST', '/api/apps/app1/keys', signedIn(ownOrigin()), JSON.stringify({ name: 'ci', appUid: 'other-app', requestedBy: 'someone else' }));
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ apiKey: API_KEY, appUid: 'app1' });
    expect(invoked.at(-1)).toEqual({ fn: 'create-key', input: { name: 'ci', appUid: 'app1', requestedBy: `local:${userInfo().username}` } });
    expect(logLines.join('\n')).not.toContain(API_KEY);
    expect(logLines.join('\n')).not.toMatch(/token=/);
  });

  test('a first key for an app the registry does not know, and that has no keys, is refused unless the page confirms a new app', async () => {
    const before = invoked.length;
    const refused = await send('POST', '/api/apps/ap1/keys', signedIn(ownOrigin()), JSON.stringify({ name: 'ci' }));
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body)).toEqual({
      errorType: 'AppNotFound',
      message: 'app ap1 has no keys yet: check the app id for a typo, or confirm it is a new app to create its first key',
    });
    // Asked the registry, then (an app from before it) for one key; created nothing.
    expect(registryReads.at(-1)).toEqual({ fn: 'get-app', input: { appUid: 'ap1' } });
    expect(invoked.slice(before)).toEqual([{ fn: 'list-keys', input: { appUid: 'ap1', limit: 1 } }]);

    const confirmed = await send('POST', '/api/apps/ap1/keys', signedIn(ownOrigin()), JSON.stringify({ name: 'ci', newApp: true }));
    expect(confirmed.status).toBe(201);
    // The confirmation is the console's: create-key never sees it.
    expect(invoked.at(-1)).toEqual({ fn: 'create-key', input: { name: 'ci', appUid: 'ap1', requestedBy: `local:${userInfo().username}` } });
  });

  test('the applications: list-apps with the page size and nextToken, get-app for one; an unknown one is 404', async () => {
    const listed = await send('GET', '/api/apps?limit=5&nextToken=abc', signedIn());
    expect([listed.status, JSON.parse(listed.body)]).toEqual([200, { apps: [{ appUid: 'app1', createdAt: '2026-01-01T00:00:00.000Z', keyCount: 1 }], nextToken: 'apps2' }]);
    expect(registryReads.at(-1)).toEqual({ fn: 'list-apps', input: { limit: 5, nextToken: 'abc' } });
    const one = await send('GET', '/api/apps/app1', signedIn());
    expect([one.status, JSON.parse(one.body)]).toEqual([200, { appUid: 'app1', createdAt: '2026-01-01T00:00:00.000Z', keyCount: 1 }]);
    const unknown = await send('GET', '/api/apps/nope', signedIn());
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([404, { errorType: 'AppNotFound', message: 'app nope not found: it has no keys' }]);
  });

  test('list passes the page size and nextToken through', async () => {
    const answer = await send('GET', '/api/apps/app1/keys?limit=20&nextToken=abc', signedIn({ 'sec-fetch-site': 'same-origin' }));
    expect(answer).toMatchObject({ status: 200, body: '{"keys":[]}' });
    expect(invoked.at(-1)).toEqual({ fn: 'list-keys', input: { appUid: 'app1', limit: 20, nextToken: 'abc' } });
  });

  test.each([
    ['a ValidationError: 400 with the message', 'POST', '/api/apps/app1/keys', '{"name":""}', 400, { errorType: 'ValidationError', message: 'name must not be empty' }],
    ['KeyNotFound: 404', 'DELETE', '/api/apps/app1/keys/key_BBBBBBBBBBBBBBBBBBBB', undefined, 404, { errorType: 'KeyNotFound', message: 'key key_BBBBBBBBBBBBBBBBBBBB not found in app app1' }],
    ['a crash: the first line of the message, never the stack', 'POST', '/api/apps/app1/keys', '{"name":"crash"}', 502, { errorType: 'TypeError', message: "Cannot read properties of undefined (reading 'x')" }],
    ['a body that is not JSON: 400, nothing invoked', 'POST', '/api/apps/app1/keys', 'name=x', 400, { errorType: 'ValidationError', message: 'request body is not valid JSON' }],
    ['a body that is not an object: 400', 'POST', '/api/apps/app1/keys', '["x"]', 400, { errorType: 'ValidationError', message: 'request body must be a JSON object' }],
    ['an unknown API path: 404', 'GET', '/api/nope', undefined, 404, { errorType: 'NotFound', message: 'GET /api/nope is not a console API' }],
    [
      'a function the local stack does not have: the CLI\'s words',
      'POST',
      '/api/apps/app1/keys/key_AAAAAAAAAAAAAAAAAAAA/roll',
      '{}',
      502,
      { errorType: 'AdminClientError', message: 'the local stack running from <home> has no roll-key function: it was started by an older keygate; restart `npm start`' },
    ],
  ])('%s', async (_, method, target, body, status, error) => {
    const before = invoked.length;
    const answer = await send(method, target, signedIn(ownOrigin()), body);
    expect(answer.status).toBe(status);
    // Only the function's own refusals involve it.
    expect(invoked.length - before).toBe(['ValidationError', 'KeyNotFound', 'TypeError'].includes(error.errorType) && !/body/.test(error.message) ? 1 : 0);
    expect(JSON.parse(answer.body)).toEqual({ ...error, message: error.message.replace('<home>', home) });
    expect(answer.body).not.toMatch(/\bat \S+ \(|index\.mjs/);
  });

  test('a path holding a well-formed key or token (typed as an app id): 400, nothing invoked, the log never holds it', async () => {
    const key = credentialFormat('kg').generate();
    const token = credentialFormat('kgs').generate();
    const before = invoked.length;
    for (const [method, target, json] of [
      ['GET', `/apps/${key}/keys`, false],
      // %-encoded: the browser would not, but the address bar takes it.
      ['GET', `/apps/${token.slice(0, 4)}%${token.charCodeAt(4).toString(16)}${token.slice(5)}/keys`, false],
      ['GET', `/api/apps/${key}/keys`, true],
      ['GET', `/api/apps/app-${token}/events`, true],
      ['POST', `/api/apps/${key}/keys`, true],
      ['DELETE', `/api/apps/app1/keys/${key}`, true],
    ] as const) {
      const answer = await send(method, target, signedIn(method === 'GET' ? {} : ownOrigin()), method === 'POST' ? '{"name":"x"}' : undefined);
      expect([method, target, answer.status]).toEqual([method, target, 400]);
      expect(answer.body).toMatch(/the address holds an API key or session token/);
      if (json) expect(JSON.parse(answer.body)).toMatchObject({ errorType: 'ValidationError' });
      expect(answer.body).not.toContain(key);
      expect(answer.body).not.toContain(token.slice(4));
    }
    expect(invoked.length).toBe(before);
    const log = logLines.join('\n');
    expect(log).toContain('GET <a path holding a key or token> 400');
    expect(log).not.toContain(key.slice(3));
    expect(log).not.toContain(token.slice(4));
  });

  test('the admin functions unreachable: 502 with the CLI\'s words', async () => {
    const lost = mkdtempSync(path.join(tmpdir(), 'keygate-console-'));
    const client = await connectAdmin({}, { KEYGATE_HOME: lost });
    const other = await startConsole({ admin: client, port: 0 });
    try {
      const url = new URL(other.url);
      const exchange = await fetch(url, { redirect: 'manual' });
      const otherCookie = exchange.headers.get('set-cookie')!.split(';')[0]!;
      const answer = await fetch(`${other.origin}/api/apps/app1/keys`, { headers: { cookie: otherCookie } });
      expect(answer.status).toBe(502);
      // Where it looked, as the CLI says it.
      expect(await answer.json()).toEqual({ errorType: 'AdminClientError', message: `no local keygate stack is running from ${lost} (KEYGATE_HOME): ${POINT_AT_A_STACK}` });
    } finally {
      await other.close();
      client.destroy();
      rmSync(lost, { recursive: true, force: true });
    }
  });
});

test('with --stack, the console invokes the deployed functions named by the stack outputs; AWS credentials stay in the process', async () => {
  // AWS itself is the one part mocked here, as in the CLI's deployed-mode tests.
  const lambda = mockClient(LambdaClient);
  const cloudFormation = mockClient(CloudFormationClient);
  const outputs = ['CreateKey', 'ListKeys', 'DeleteKey'].map((name) => ({ OutputKey: `${name}FunctionName`, OutputValue: `prod-${name}-abc` }));
  cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'prod', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs }] });
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from('{"keys":[]}') as unknown as InvokeCommandOutput['Payload'] });
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const client = await connectAdmin({ stack: 'prod', region: 'eu-west-1' }, {});
  const deployed = await startConsole({ admin: client, port: 0 });
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = secret;
  try {
    const exchange = await fetch(deployed.url, { redirect: 'manual' });
    const headers = { cookie: exchange.headers.get('set-cookie')!.split(';')[0]! };
    const info = await fetch(`${deployed.origin}/api/info`, { headers });
    // The stack predates the key lifecycle functions: the page offers only these.
    expect(await info.json()).toEqual({ target: 'stack prod', functions: ['createKey', 'listKeys', 'deleteKey'] });
    const listed = await fetch(`${deployed.origin}/api/apps/app1/keys`, { headers });
    const text = await listed.text();
    expect([listed.status, text]).toEqual([200, '{"keys":[]}']);
    expect(lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input.FunctionName)).toEqual(['prod-ListKeys-abc']);
    const page = await (await fetch(`${deployed.origin}/`, { headers })).text();
    for (const answer of [text, page]) expect(answer).not.toMatch(/AKIA|wJalrXUtnFEMI/);
  } finally {
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    await deployed.close();
    client.destroy();
    lambda.restore();
    cloudFormation.restore();
  }
});

describe('the static page', () => {
  const html = readFileSync(path.join(STATIC_DIR, 'index.html'), 'utf8');
  const js = readFileSync(path.join(STATIC_DIR, 'console.js'), 'utf8');

  test('no inline script, style or event handler, nothing from another host', () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/<style/i);
    expect(`${html}${js}`).not.toMatch(/https?:\/\//);
  });

  test('the script puts server values on the page as text only, and keeps no key', () => {
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    expect(js).not.toMatch(/console\.(log|info|debug|warn|error)/);
    expect(js).not.toMatch(/sessionStorage|document\.cookie/);
    // localStorage holds the recent app ids, nothing else.
    expect([...js.matchAll(/localStorage\.setItem\(([^,]+),/g)].map((match) => match[1])).toEqual(['RECENT_KEY']);
  });
});
