import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';

declare global {
  // eslint-disable-next-line no-var
  var __keygateDynamoDbLocal: DynamoDbLocal | undefined;
}

/** One in-memory DynamoDB Local for the whole run; each test file makes its own tables in it. */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dynamodb = await startDynamoDbLocal();
  globalThis.__keygateDynamoDbLocal = dynamodb;
  // Read by every worker (they inherit this environment) and by the AWS SDK itself.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
  process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT = dynamodb.endpoint;
}
