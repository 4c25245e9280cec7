import { AUTHORIZERS } from '../../lib/shared/routes';
import { requestAuthorizer, type AuthorizerDecision } from '../lambda/authorizer-handler';
import { acceptUnsealedRecordsFrom } from '../lambda/config';
import { sessionLookup } from '../stores/credential-lookup';
import { bearerToken, singleHeader } from '../lambda/headers';
import { servicesFromEnvironment } from '../lambda/services';
import { verifySessionToken } from '../domain/verify';

const services = servicesFromEnvironment();
const deps = {
  sessionFormat: services.sessionFormat,
  hash: services.hash,
  findSession: sessionLookup(services.dynamodb, services.tables.sessions),
  sealer: services.sealer,
  acceptUnsealedRecords: acceptUnsealedRecordsFrom(process.env),
};

/**
 * REQUEST authorizer for `Authorization: Bearer <session token>`. It reads only
 * the sessions table: whether the key that created the session still exists
 * does not matter. Context `{ appUid, userId, sessionId, sessionExpiresAt, userKey }`.
 */
export const handler = requestAuthorizer('session token', async (event): Promise<AuthorizerDecision> => {
  const result = await verifySessionToken(deps, bearerToken(singleHeader(event, AUTHORIZERS.session.identityHeader)), new Date());
  if (result.code !== 'valid') {
    const { code, ...logFields } = result;
    return { allow: false, reason: code, logFields };
  }
  const { appUid, userId, sessionId, expiresAt, userKey } = result.session;
  return { allow: true, principalId: userId, appUid, context: { appUid, userId, sessionId, sessionExpiresAt: expiresAt, userKey } };
});
