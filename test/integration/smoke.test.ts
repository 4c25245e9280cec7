import { createTestTables } from '../support/dynamodb';
import { handler as createKey } from '../../functions/create-key/index';
import { handler as authorize } from '../../functions/api-key-authorizer/index';

test('smoke', async () => {
  await createTestTables();
  const created = await createKey({ appUid: 'demo', name: 'first' });
  const result = await authorize({ type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:123:abc/prod/GET/api/v1/appuid/demo/whoami', headers: { 'X-Api-Key': created.apiKey } } as never);
  console.log(JSON.stringify(result));
  expect(result.context.keyId).toBe(created.keyId);
});
