import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ENV } from '../../lib/shared/environment';
import { keyPrefixFrom, requireEnv, sessionLifetimeSecondsFrom, sessionTokenPrefixFrom } from './config';
import { createHasher, pepperFromEnvironment, type Hasher, type SecretReader } from '../domain/hashing';
import { credentialFormat, type CredentialFormat } from '../domain/credential-format';
import { createSealer, type Sealer } from '../domain/seal';

/**
 * Wiring from the process environment to the core. Handlers call these once at
 * module scope, so clients, the pepper cache and config live for the container.
 */
type Env = Readonly<Record<string, string | undefined>>;

export const logger = new Logger({ serviceName: 'keygate' });

/**
 * Secrets Manager GetSecretValue. The client is imported on first use: its
 * code ships in the bundle (NodejsFunction does not split code) but is only
 * evaluated when the pepper is first read, once per container, not during
 * every cold start's init.
 */
export const readSecretsManagerSecret: SecretReader = async (secretId) => {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({});
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return SecretString;
  } finally {
    client.destroy();
  }
};

export interface Services {
  /** The bare client; stores wrap it in a document client (see document-client.ts), authorizers use it as is. */
  readonly dynamodb: DynamoDBClient;
  readonly hash: Hasher;
  /** Seals of hash items, keyed from the same pepper as `hash` (read on first use). */
  readonly sealer: Sealer;
  readonly keyFormat: CredentialFormat;
  readonly sessionFormat: CredentialFormat;
  readonly sessionLifetimeSeconds: number;
  /** Table names, read from the environment when accessed: each function is given only the tables it may touch. */
  readonly tables: { readonly keys: string; readonly sessions: string; readonly users: string };
}

/** Builds the dependencies every handler draws from. A missing table name fails when that table is asked for. */
export function servicesFromEnvironment(env: Env = process.env, readSecret: SecretReader = readSecretsManagerSecret): Services {
  // The SDK reads AWS_ENDPOINT_URL_DYNAMODB itself; the local stack and tests use it to reach DynamoDB Local.
  // Bounded waits: a DynamoDB that accepts connections but never answers must fail the request, not hang it until the Lambda timeout.
  const dynamodb = new DynamoDBClient({ requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } });
  const tables = {
    get keys() {
      return requireEnv(env, ENV.keysTable);
    },
    get sessions() {
      return requireEnv(env, ENV.sessionsTable);
    },
    get users() {
      return requireEnv(env, ENV.usersTable);
    },
  };
  const pepper = pepperFromEnvironment(env, readSecret);
  return {
    dynamodb,
    hash: createHasher(pepper),
    sealer: createSealer(pepper),
    keyFormat: credentialFormat(keyPrefixFrom(env)),
    sessionFormat: credentialFormat(sessionTokenPrefixFrom(env)),
    sessionLifetimeSeconds: sessionLifetimeSecondsFrom(env),
    tables,
  };
}
