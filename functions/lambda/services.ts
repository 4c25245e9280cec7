import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ENV } from '../../lib/shared/environment';
import type { AuthSettings } from '../../lib/shared/auth-settings';
import { authSettingsFrom, keyPrefixFrom, planCatalogFrom, requireEnv, sessionLifetimeSecondsFrom, sessionTokenPrefixFrom } from './config';
import type { PlanCatalog } from '../domain/apps';
import { createHasher, pepperFromEnvironment, type Hasher, type SecretReader } from '../domain/hashing';
import { credentialFormat, type CredentialFormat } from '../domain/credential-format';
import { legacyKeyFormat, type LegacyKeyFormat } from '../domain/key-formats';
import { duringInit } from './init';
import { logFailure, logger } from './logger';

export { logFailure, logger };
import { createSealer, type Sealer } from '../domain/seal';

/**
 * Wiring from the process environment to the core. Handlers call these once at
 * module scope, so clients, the pepper cache and config live for the container.
 */
type Env = Readonly<Record<string, string | undefined>>;

/**
 * Secrets Manager GetSecretValue. The client is imported on first use: its
 * code ships in the bundle (esbuild does not split code) but is evaluated
 * only by functions that read the pepper from Secrets Manager, once per
 * container, during init. Bounded waits, as for DynamoDB: an unanswered read
 * fails (and is not retried for a few seconds, see cachedPepper) instead of
 * holding requests until the Lambda timeout.
 */
export const readSecretsManagerSecret: SecretReader = async (secretId) => {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true } });
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return SecretString;
  } finally {
    client.destroy();
  }
};

/** Everything a function draws from but its AWS clients: shared by the SDK-backed functions and the authorizers (authorizer-services.ts). */
export interface CredentialServices {
  readonly hash: Hasher;
  /** Seals of hash items, keyed from the same pepper as `hash` (read on first use). */
  readonly sealer: Sealer;
  readonly keyFormat: CredentialFormat;
  /** Imported keys' format, when a legacy key pattern is configured. */
  readonly legacyKeyFormat?: LegacyKeyFormat;
  readonly sessionFormat: CredentialFormat;
  /** Scope of an Allow, base path, API-key header. */
  readonly auth: AuthSettings;
  readonly sessionLifetimeSeconds: number;
  /** This deployment's plans; undefined when plans are off. */
  readonly plans: PlanCatalog | undefined;
  /** Table names, read from the environment when accessed: each function is given only the tables it may touch. */
  readonly tables: { readonly keys: string; readonly sessions: string; readonly users: string };
}

export interface Services extends CredentialServices {
  /** The bare client; stores wrap it in a document client (see document-client.ts). */
  readonly dynamodb: DynamoDBClient;
}

/** Builds the dependencies every handler draws from. A missing table name fails when that table is asked for. */
export function servicesFromEnvironment(env: Env = process.env, readSecret: SecretReader = readSecretsManagerSecret): Services {
  // The SDK reads AWS_ENDPOINT_URL_DYNAMODB itself; the local stack and tests use it to reach DynamoDB Local.
  // Bounded waits: a DynamoDB that accepts connections but never answers must fail the request, not hang it until the Lambda timeout.
  const dynamodb = new DynamoDBClient({ requestHandler: { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true } });
  return { dynamodb, ...credentialServices(env, readSecret) };
}

export function credentialServices(env: Env, readSecret: SecretReader): CredentialServices {
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
  // A function given a pepper reads it during init (see init.ts); one given none never needs it. The keys derived from
  // it (hashing, sealing) are made on first use, as cheap there as here.
  if (env[ENV.pepperSecretId] || env[ENV.localPepper]) {
    duringInit(pepper().catch((error: unknown) => logger.error('pepper not read during init; requests that need it fail until a read succeeds', { error: error as Error })));
  }
  const auth = authSettingsFrom(env);
  return {
    hash: createHasher(pepper),
    sealer: createSealer(pepper),
    keyFormat: credentialFormat(keyPrefixFrom(env)),
    ...(auth.legacyKeys && { legacyKeyFormat: legacyKeyFormat(auth.legacyKeys) }),
    auth,
    sessionFormat: credentialFormat(sessionTokenPrefixFrom(env)),
    sessionLifetimeSeconds: sessionLifetimeSecondsFrom(env),
    plans: planCatalogFrom(env),
    tables,
  };
}
