import { AUTHORIZERS } from '../../lib/shared/routes';
import { requestAuthorizer, type AuthorizerDecision } from '../lambda/authorizer-handler';
import { acceptUnsealedRecordsFrom, lastUsedIntervalSecondsFrom } from '../lambda/config';
import { singleHeader } from '../lambda/headers';
import { apiKeyLookup, lastUsedWriter } from '../stores/credential-lookup';
import { logger, servicesFromEnvironment } from '../lambda/services';
import { lastUsedRecorder } from '../domain/last-used';
import { verifyApiKey } from '../domain/verify';

const services = servicesFromEnvironment();
const deps = {
  keyFormat: services.keyFormat,
  hash: services.hash,
  findKey: apiKeyLookup(services.dynamodb, services.tables.keys),
  sealer: services.sealer,
  acceptUnsealedRecords: acceptUnsealedRecordsFrom(process.env),
  recordUse: lastUsedRecorder({
    intervalMs: lastUsedIntervalSecondsFrom(process.env) * 1000,
    write: lastUsedWriter(services.dynamodb, services.tables.keys),
    onError: (error, keyId) => logger.warn('lastUsedAt not recorded', { keyId, errorType: (error as Error).name, errorMessage: (error as Error).message }),
  }),
};

/** REQUEST authorizer for `x-api-key`: context `{ appUid, keyId, role: 'app-owner' }`. */
export const handler = requestAuthorizer('api key', async (event): Promise<AuthorizerDecision> => {
  const result = await verifyApiKey(deps, singleHeader(event, AUTHORIZERS.apiKey.identityHeader), new Date());
  if (result.code !== 'valid') {
    const { code, ...logFields } = result;
    return { allow: false, reason: code, logFields };
  }
  const { appUid, keyId } = result;
  return { allow: true, principalId: keyId, appUid, context: { appUid, keyId, role: 'app-owner' } };
});
