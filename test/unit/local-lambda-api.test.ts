import { randomBytes } from 'node:crypto';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { createLocalLambdaApi, functionNameOf, localLambdaApiCredentials } from '../../lib/local/lambda-api';

/** The local Lambda Invoke API, driven by the real AWS SDK client, and by hand-made requests for what a web page or a stranger would send. */
class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

let server: Server;
let client: LambdaClient;
let port: number;
const seen: unknown[] = [];
const secret = randomBytes(32).toString('hex');

beforeAll(async () => {
  server = createLocalLambdaApi({
    secret,
    functions: {
      echo: async (event) => {
        seen.push(event);
        return { got: event };
      },
      fails: async () => {
        throw new ValidationError('name must be 1-100 characters');
      },
      nothing: async () => undefined,
      callback: (event, _context, callback) => callback!(null, { callbackStyle: event }),
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  client = lambdaClient(secret);
});

const lambdaClient = (accessKeyId: string) =>
  new LambdaClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: localLambdaApiCredentials(accessKeyId), maxAttempts: 1 });

afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
});

const invoke = (FunctionName: string, payload?: unknown) =>
  client.send(new InvokeCommand({ FunctionName, ...(payload === undefined ? {} : { Payload: Buffer.from(JSON.stringify(payload)) }) }));
const payloadOf = (response: { Payload?: Uint8Array }) => JSON.parse(Buffer.from(response.Payload!).toString('utf8'));

test('a successful invocation returns the handler result as the payload', async () => {
  const response = await invoke('echo', { appUid: 'a' });
  expect(response.StatusCode).toBe(200);
  expect(response.FunctionError).toBeUndefined();
  expect(payloadOf(response)).toEqual({ got: { appUid: 'a' } });
});

test('a thrown error is FunctionError Unhandled with errorType and errorMessage, as Lambda reports it', async () => {
  const response = await invoke('fails', {});
  expect(response.StatusCode).toBe(200);
  expect(response.FunctionError).toBe('Unhandled');
  expect(payloadOf(response)).toMatchObject({ errorType: 'ValidationError', errorMessage: 'name must be 1-100 characters' });
});

test('no payload is an empty event; an undefined result is null', async () => {
  seen.length = 0;
  await invoke('echo');
  expect(seen).toEqual([{}]);
  expect(payloadOf(await invoke('nothing', {}))).toBeNull();
});

test('callback-style handlers work', async () => {
  expect(payloadOf(await invoke('callback', 1))).toEqual({ callbackStyle: 1 });
});

test('a function ARN or a qualified name finds the function', async () => {
  expect(payloadOf(await invoke('arn:aws:lambda:us-east-1:123456789012:function:echo', 2))).toEqual({ got: 2 });
  expect(payloadOf(await invoke('echo:$LATEST', 3))).toEqual({ got: 3 });
  expect(functionNameOf('arn:aws:lambda:eu-west-1:1:function:create-key:prod')).toBe('create-key');
});

test('an unknown function is ResourceNotFoundException', async () => {
  await expect(invoke('missing', {})).rejects.toBeInstanceOf(ResourceNotFoundException);
});

test('a payload that is not JSON is refused before the handler runs', async () => {
  seen.length = 0;
  await expect(client.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{not json') }))).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
  expect(seen).toEqual([]);
});

test('InvocationType Event answers 202 and runs the handler', async () => {
  seen.length = 0;
  const response = await client.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: Buffer.from('{"async":true}') }));
  expect(response.StatusCode).toBe(202);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(seen).toEqual([{ async: true }]);
});

const signedWith = (accessKeyId: string) => `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00`;

test('an unsupported InvocationType is refused (400) before the function runs', async () => {
  seen.length = 0;
  const response = await rawInvoke({ host: `127.0.0.1:${port}`, authorization: signedWith(secret), 'x-amz-invocation-type': 'Sometimes' });
  expect(response).toMatchObject({ status: 400, errorType: 'InvalidParameterValueException' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(seen).toEqual([]);
});

/** A raw POST to the invoke path of `echo`, with exactly the given headers (node:http sends Host and Origin as set). */
async function rawInvoke(headers: Record<string, string>, body = '{"appUid":"x","name":"from a page"}') {
  return new Promise<{ status: number; errorType: string | undefined; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/2015-03-31/functions/echo/invocations', headers });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, errorType: res.headers['x-amzn-errortype'] as string | undefined, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('only programs on this machine that know the per-start secret', () => {
  beforeEach(() => (seen.length = 0));

  test("a web page's simple text/plain POST (Origin, no credentials) is refused before any function runs", async () => {
    const response = await rawInvoke({ host: `127.0.0.1:${port}`, origin: 'https://attacker.example', 'content-type': 'text/plain' });
    expect(response).toMatchObject({ status: 403, errorType: 'AccessDeniedException' });
    expect(seen).toEqual([]);
  });

  test('an Origin is refused even with the right secret', async () => {
    const response = await rawInvoke({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, authorization: signedWith(secret) });
    expect(response).toMatchObject({ status: 403, errorType: 'AccessDeniedException' });
    expect(seen).toEqual([]);
  });

  // PORT stands for the server's port, known only once it listens.
  const withPort = (host: string) => host.replace('PORT', String(port));

  test.each(['attacker.example', 'attacker.example:PORT', '127.0.0.1.attacker.example:PORT', 'localhost.attacker.example', '[::2]:PORT', '127.0.0.2:PORT'])(
    'a foreign Host (DNS rebinding) %j is refused even with the right secret',
    async (host) => {
      const response = await rawInvoke({ host: withPort(host), authorization: signedWith(secret) });
      expect(response).toMatchObject({ status: 403, errorType: 'AccessDeniedException' });
      expect(seen).toEqual([]);
    },
  );

  test.each(['127.0.0.1:PORT', 'localhost:PORT', 'LOCALHOST:PORT', '[::1]:PORT', 'localhost'])('Host %j is loopback and accepted', async (host) => {
    expect(await rawInvoke({ host: withPort(host), authorization: signedWith(secret) })).toMatchObject({ status: 200 });
  });

  test('without the secret, or with another one, the SDK gets UnrecognizedClientException and nothing runs; the answer never echoes what was sent', async () => {
    for (const presented of ['AKIDEXAMPLE', randomBytes(32).toString('hex'), secret.slice(0, -1)]) {
      const stranger = lambdaClient(presented);
      try {
        const failed = await stranger.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{}') })).catch((error: Error) => error);
        expect(failed).toMatchObject({ name: 'UnrecognizedClientException' });
        expect((failed as Error).message).not.toContain(presented);
      } finally {
        stranger.destroy();
      }
    }
    expect(await rawInvoke({ host: `127.0.0.1:${port}` })).toMatchObject({ status: 403, errorType: 'UnrecognizedClientException' });
    expect(seen).toEqual([]);
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('function name %s is ResourceNotFoundException, not an Object.prototype member', async (name) => {
    await expect(invoke(name, {})).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  test('a secret shorter than 32 characters is refused at creation', () => {
    expect(() => createLocalLambdaApi({ secret: 'short', functions: {} })).toThrow('the local Lambda API secret must be at least 32 characters');
  });
});
