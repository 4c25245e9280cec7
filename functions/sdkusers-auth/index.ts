import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '../stores/document-client';
import { authorizerContext, errorResponse, jsonBody, jsonResponse } from '../lambda/http';
import { logger, servicesFromEnvironment } from '../lambda/services';
import { SessionStore } from '../stores/session-store';
import { issueSession } from '../domain/sessions';
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
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  let caller: { appUid: string; keyId: string };
  try {
    caller = authorizerContext(event, ['appUid', 'keyId']);
  } catch (error) {
    return errorResponse(error);
  }
  try {
    const issued = await issueSession(deps, caller, jsonBody(event), new Date());
    logger.info('session issued', { appUid: caller.appUid, keyId: caller.keyId, userId: issued.userId, sessionId: issued.sessionId });
    return jsonResponse(200, { authToken: issued.authToken, expiresAt: issued.expiresAt });
  } catch (error) {
    logger.warn('session not issued', { appUid: caller.appUid, keyId: caller.keyId, errorType: (error as Error).name, errorMessage: (error as Error).message });
    return errorResponse(error);
  }
};
