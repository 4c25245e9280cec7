import type { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { GatewayKeys } from '../domain/apps';
import { ConfigurationError, GatewayUnavailable } from '../domain/errors';

/**
 * The gateway-keys port on API Gateway's management API. The client is
 * imported on first use, like the Secrets Manager client: create-key needs it
 * only for an app's first key, so it stays out of every cold start's init.
 * The SDK reads AWS_ENDPOINT_URL_API_GATEWAY itself: `npm start` points it at
 * the local stack's emulation of these four calls, so the same code runs.
 */
export function apiGatewayKeys(): GatewayKeys {
  let loaded: Promise<{ client: APIGatewayClient; sdk: typeof import('@aws-sdk/client-api-gateway') }> | undefined;
  const load = () =>
    (loaded ??= import('@aws-sdk/client-api-gateway').then((sdk) => ({
      sdk,
      client: new sdk.APIGatewayClient({ requestHandler: { connectionTimeout: 1000, requestTimeout: 5000 } }),
    })));

  return {
    async create(name, value) {
      const { client, sdk } = await load();
      const created = await call('CreateApiKey', () =>
        client.send(new sdk.CreateApiKeyCommand({ name, value, enabled: true, description: 'keygate: usage-plan key of one app; not a credential (the authorizer supplies it)' })),
      );
      if (!created?.id) throw new GatewayUnavailable('API Gateway CreateApiKey returned no key id');
      return created.id;
    },
    async attach(gatewayKeyId, usagePlanId) {
      const { client, sdk } = await load();
      await call('CreateUsagePlanKey', () => client.send(new sdk.CreateUsagePlanKeyCommand({ usagePlanId, keyId: gatewayKeyId, keyType: 'API_KEY' })), 'ConflictException');
    },
    async detach(gatewayKeyId, usagePlanId) {
      const { client, sdk } = await load();
      await call('DeleteUsagePlanKey', () => client.send(new sdk.DeleteUsagePlanKeyCommand({ usagePlanId, keyId: gatewayKeyId })), 'NotFoundException');
    },
    async remove(gatewayKeyId) {
      const { client, sdk } = await load();
      await call('DeleteApiKey', () => client.send(new sdk.DeleteApiKeyCommand({ apiKey: gatewayKeyId })), 'NotFoundException');
    },
  };
}

/** API Gateway errors worth a retry: its management API throttles hard (a few calls per second per account). */
const RETRYABLE = new Set(['TooManyRequestsException', 'ServiceUnavailableException', 'LimitExceededException', 'TimeoutError', 'RequestTimeout']);

/**
 * Runs one management call; `done` names the error that means the change is
 * already in place (a key already in the plan, a key already gone).
 */
async function call<T>(operation: string, send: () => Promise<T>, done?: string): Promise<T | undefined> {
  try {
    return await send();
  } catch (error) {
    const name = error instanceof Error ? error.name : 'UnknownError';
    if (name === done) return undefined;
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (RETRYABLE.has(name) || status === undefined || status >= 500) {
      throw new GatewayUnavailable(`API Gateway ${operation} failed: ${name}; try again`, { cause: error });
    }
    throw new ConfigurationError(`API Gateway refused ${operation}: ${name}`, { cause: error });
  }
}
