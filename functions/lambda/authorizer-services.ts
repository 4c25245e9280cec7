import { DynamoDbHttpClient } from '../aws-http/dynamodb';
import { SecretsManagerHttpClient } from '../aws-http/secrets-manager';
import type { SecretReader } from '../domain/hashing';
import { acceptUnsealedRecordsFrom } from './config';
import { credentialServices, type CredentialServices } from './services';

/**
 * The authorizers' wiring: the same services as the other functions, but
 * DynamoDB and Secrets Manager through the small signed-HTTP clients of
 * aws-http/ instead of the SDK. They sit in front of every request, so their
 * cold start is everyone's; the SDK alone would be most of it.
 */
type Env = Readonly<Record<string, string | undefined>>;

/**
 * The timeouts of the SDK clients the other functions build (services.ts): DynamoDB 1 s to connect and 3 s to
 * answer (the aws-http clients' defaults); Secrets Manager 2 s to answer (readSecretsManagerSecret).
 */
const SECRETS_MANAGER_TIMEOUTS = { connectionTimeoutMs: 1000, requestTimeoutMs: 2000 } as const;

export interface AuthorizerServices extends CredentialServices {
  readonly dynamodb: DynamoDbHttpClient;
  /** Items with no seal at all are accepted (the upgrade window; see seal.ts). */
  readonly acceptUnsealedRecords: boolean;
}

function secretsManagerReader(env: Env): SecretReader {
  const client = new SecretsManagerHttpClient({ env, ...SECRETS_MANAGER_TIMEOUTS });
  return async (secretId) => (await client.getSecretValue({ SecretId: secretId })).SecretString;
}

export function authorizerServicesFromEnvironment(env: Env = process.env): AuthorizerServices {
  return { dynamodb: new DynamoDbHttpClient({ env }), acceptUnsealedRecords: acceptUnsealedRecordsFrom(env), ...credentialServices(env, secretsManagerReader(env)) };
}
