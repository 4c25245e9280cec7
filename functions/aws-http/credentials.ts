import type { AwsCredentialIdentity } from '@smithy/types';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Credentials as the SDK's default chain finds them in Lambda: its first
 * provider, `fromEnv`, reads these three variables, which the Lambda runtime
 * sets from the function's role. Read on every call (no I/O), so a process
 * whose environment changes, like the local stack's, signs with what is set now.
 */
export function credentialsFromEnvironment(env: Env): AwsCredentialIdentity {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    // The SDK's own name and wording when no provider yields credentials.
    throw Object.assign(new Error('Could not load credentials from any providers: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set'), {
      name: 'CredentialsProviderError',
    });
  }
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}
