import { AUTHORIZATION_HEADER } from '../../lib/shared/auth-settings';
import { requestAuthorizer, type AuthorizerDecision } from '../lambda/authorizer-handler';
import { sessionLookup } from '../stores/credential-lookup';
import { bearerToken, singleHeader } from '../lambda/headers';
import { authorizerServicesFromEnvironment } from '../lambda/authorizer-services';
import { verifySessionToken } from '../domain/verify';

const services = authorizerServicesFromEnvironment();
const deps = {
  sessionFormat: services.sessionFormat,
  hash: services.hash,
  findSession: sessionLookup(services.dynamodb, services.tables.sessions),
  sealer: services.sealer,
  acceptUnsealedRecords: services.acceptUnsealedRecords,
};

/**
 * REQUEST authorizer for `Authorization: Bearer <session token>`. It reads only
 * the sessions table: whether the key that created the session still exists
 * does not matter. Context `{ appUid, userId, sessionId, sessionExpiresAt, userKey }`; the app's
 * gateway key (kept on the session when it was opened) as `usageIdentifierKey`.
 */
export const handler = requestAuthorizer('session_token', services.auth, async (event): Promise<AuthorizerDecision> => {
  const result = await verifySessionToken(deps, bearerToken(singleHeader(event, AUTHORIZATION_HEADER)), new Date());
  if (result.code !== 'valid') {
    const { code, ...logFields } = result;
    return { allow: false, reason: code, logFields };
  }
  const { appUid, userId, sessionId, expiresAt, userKey, gatewayKey } = result.session;
  return { allow: true, principalId: userId, appUid, context: { appUid, userId, sessionId, sessionExpiresAt: expiresAt, userKey }, usageIdentifierKey: gatewayKey };
});
