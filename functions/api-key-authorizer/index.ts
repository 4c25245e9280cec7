import { AUTHORIZERS } from '../../lib/routes';
import { requestAuthorizer, type AuthorizerDecision } from '../core/authorizer-handler';
import { singleHeader } from '../core/headers';
import { apiKeyLookup } from '../core/credential-lookup';
import { runtimeFromEnvironment } from '../core/runtime';
import { verifyApiKey } from '../core/verify';

const runtime = runtimeFromEnvironment();
const deps = { keyFormat: runtime.keyFormat, hash: runtime.hash, findKey: apiKeyLookup(runtime.dynamodb, runtime.tables.keys) };

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
