import { requestAuthorizer, type AuthorizerDecision } from '../lambda/authorizer-handler';
import { lastUsedIntervalSecondsFrom } from '../lambda/config';
import { presentedApiKey } from '../lambda/headers';
import { recordLastUsedWriteFailure } from '../lambda/metrics';
import { apiKeyLookup, lastUsedWriter } from '../stores/credential-lookup';
import { logFailure } from '../lambda/services';
import { authorizerServicesFromEnvironment } from '../lambda/authorizer-services';
import { lastUsedRecorder } from '../domain/last-used';
import { verifyApiKey } from '../domain/verify';

const services = authorizerServicesFromEnvironment();
const deps = {
  keyFormat: services.keyFormat,
  legacyKeyFormat: services.legacyKeyFormat,
  hash: services.hash,
  findKey: apiKeyLookup(services.dynamodb, services.tables.keys),
  sealer: services.sealer,
  acceptUnsealedRecords: services.acceptUnsealedRecords,
  recordUse: lastUsedRecorder({
    intervalMs: lastUsedIntervalSecondsFrom(process.env) * 1000,
    write: lastUsedWriter(services.dynamodb, services.tables.keys),
    // The decision stands either way; only a write that can never succeed (IAM, a table name) is logged at ERROR.
    onError: (error, keyId) => {
      recordLastUsedWriteFailure();
      logFailure(error, 'lastUsedAt not recorded', { keyId, errorType: (error as Error).name, errorMessage: (error as Error).message });
    },
  }),
};

/**
 * REQUEST authorizer for API keys (the configured header, `x-api-key` by
 * default; keygate keys and, when configured, imported legacy keys):
 * context `{ appUid, keyId, role: 'app-owner' }`, and the app's gateway key as
 * `usageIdentifierKey` when the app is on a plan, from the same one read.
 */
export const handler = requestAuthorizer('api_key', services.auth, async (event): Promise<AuthorizerDecision> => {
  const result = await verifyApiKey(deps, presentedApiKey(event, services.auth), new Date());
  if (result.code !== 'valid') {
    const { code, ...logFields } = result;
    return { allow: false, reason: code, logFields };
  }
  const { appUid, keyId, gatewayKey } = result;
  return { allow: true, principalId: keyId, appUid, context: { appUid, keyId, role: 'app-owner' }, usageIdentifierKey: gatewayKey };
});
