import { AUTHORIZERS } from '../../lib/routes';
import { requestAuthorizer, type AuthorizerDecision } from '../core/authorizer-handler';
import { sessionLookup } from '../core/credential-lookup';
import { bearerToken, singleHeader } from '../core/headers';
import { runtimeFromEnvironment } from '../core/runtime';
import { verifySessionToken } from '../core/verify';

const runtime = runtimeFromEnvironment();
const deps = { sessionFormat: runtime.sessionFormat, hash: runtime.hash, findSession: sessionLookup(runtime.dynamodb, runtime.tables.sessions) };

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
