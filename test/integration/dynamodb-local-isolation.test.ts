import { request } from 'node:http';
import { answersDynamoDb, expectLoopbackOnly } from '../support/network';

/**
 * DynamoDB Local accepts any signature: whoever reaches its port reads and
 * changes every table. It must be reachable from this machine only. Checked
 * from outside, as a neighbour on the network would try: a TCP connection to
 * each of this machine's other addresses is refused, and the kernel lists
 * only a loopback address as listening on the port (which fails on a
 * wildcard bind even on a machine with no other address). This is the test
 * run's own DynamoDB Local (jest global setup); test/e2e/local-stack.test.ts
 * checks npm start's, with its environment, flags and files.
 */
test('the test run’s DynamoDB Local (jest global setup) is reachable on 127.0.0.1 only', async () => {
  await expectLoopbackOnly(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!, answersDynamoDb);
});

/**
 * A web page on this machine could still reach it: by DNS rebinding (its own
 * name resolved to 127.0.0.1, sent as Host) or by a plain fetch (with an
 * Origin; DynamoDB Local answers CORS by default). Both get 403 before any
 * table is touched; the SDK, which sends a loopback Host and no Origin, is
 * served.
 */
describe('a request a web page could send is refused', () => {
  const endpoint = () => new URL(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!);
  const listTables = (headers: Record<string, string>, method = 'POST') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = endpoint();
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path: '/',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables', authorization: 'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x', ...headers },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end(method === 'POST' ? '{}' : undefined);
    });

  test.each([
    ['a foreign Host (DNS rebinding)', { host: `rebound.example:${endpoint().port}` }, 'POST'],
    ['an Origin (a page’s fetch)', { origin: 'https://evil.example' }, 'POST'],
    ['a CORS preflight', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS'],
  ] as const)('%s: 403, no table listed', async (_label, headers, method) => {
    const answer = await listTables(headers, method);
    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('TableNames');
  });

  test.each([['127.0.0.1'], ['localhost'], ['[::1]']])('a loopback Host (%s) without an Origin is served', async (name) => {
    const answer = await listTables({ host: `${name}:${endpoint().port}` });
    expect(answer).toMatchObject({ status: 200, body: expect.stringContaining('TableNames') });
  });
});
