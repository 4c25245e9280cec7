import { AwsJsonClient, type AwsJsonClientOptions } from './json-client';

export interface GetSecretValueInput {
  readonly SecretId: string;
  readonly VersionId?: string;
  readonly VersionStage?: string;
}

export interface GetSecretValueOutput {
  readonly ARN?: string;
  readonly Name?: string;
  readonly VersionId?: string;
  readonly SecretString?: string;
  /** Base64, as on the wire (the SDK decodes it to bytes). */
  readonly SecretBinary?: string;
}

/** Secrets Manager's GetSecretValue; defaults as the SDK's client: 3 attempts, 50 ms backoff base. */
export class SecretsManagerHttpClient extends AwsJsonClient {
  constructor(options: AwsJsonClientOptions = {}) {
    super({ signingName: 'secretsmanager', envSuffix: 'SECRETS_MANAGER', targetPrefix: 'secretsmanager', jsonVersion: '1.1', defaultMaxAttempts: 3, baseDelayMs: 50 }, options);
  }

  getSecretValue(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    return this.call('GetSecretValue', input);
  }
}
