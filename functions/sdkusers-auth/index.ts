import type { APIGatewayProxyEvent } from 'aws-lambda';
import { documentClient } from '../stores/document-client';
import { authorizerContext, jsonBody, jsonResponse, proxyHandler } from '../lambda/http';
import { logger, servicesFromEnvironment } from '../lambda/services';
import { SessionStore } from '../stores/session-store';
import { issueSession, type KeyCaller } from '../domain/sessions';
import { UserStore } from '../stores/user-store';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = {
  sessionFormat: services.sessionFormat,
  hash: services.hash,
  users: new UserStore(db, services.tables.users),
  sessions: new SessionStore(db, services.tables.sessions, services.tables.users, services.sealer),
  lifetimeSeconds: services.sessionLifetimeSeconds,
};

/** `POST .../sdkusers/auth` behind the API-key authorizer: `{ authToken, expiresAt }`. */
export const handler = proxyHandler('sdkusers/auth', async (event) => {
  const caller: KeyCaller = { ...authorizerContext(event, ['appUid', 'keyId']), ...gatewayKeyOf(event) };
  const issued = await issueSession(deps, caller, jsonBody(event), new Date());
  logger.info('session issued', { appUid: caller.appUid, keyId: caller.keyId, userId: issued.userId, sessionId: issued.sessionId });
  return jsonResponse(200, { authToken: issued.authToken, expiresAt: issued.expiresAt });
});

/**
 * The app's gateway API key as API Gateway passes it on a method that
 * requires one (plans on): kept on the session, so the session authorizer
 * can return it and the app's session calls count against its plan too.
 */
function gatewayKeyOf(event: APIGatewayProxyEvent): { gatewayKey?: string } {
  const apiKey = event.requestContext?.identity?.apiKey;
  return typeof apiKey === 'string' && apiKey !== '' ? { gatewayKey: apiKey } : {};
}
