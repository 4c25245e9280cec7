import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { createLocalLambdaApi, functionNameOf } from '../../lib/local/lambda-api';

/** The local Lambda Invoke API, driven by the real AWS SDK client. */
class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

let server: Server;
let client: LambdaClient;
const seen: unknown[] = [];

beforeAll(async () => {
  server = createLocalLambdaApi({
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
  client = new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

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
