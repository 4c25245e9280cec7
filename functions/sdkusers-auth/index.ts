import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '../core/document-client';
import { authorizerContext, errorResponse, jsonBody, jsonResponse } from '../core/http';
import { logger, runtimeFromEnvironment } from '../core/runtime';
import { SessionStore } from '../core/session-store';
import { issueSession } from '../core/sessions';
import { UserStore } from '../core/users';

const runtime = runtimeFromEnvironment();
const db = documentClient(runtime.dynamodb);
const deps = {
  sessionFormat: runtime.sessionFormat,
  hash: runtime.hash,
  users: new UserStore(db, runtime.tables.users),
  sessions: new SessionStore(db, runtime.tables.sessions),
  lifetimeSeconds: runtime.sessionLifetimeSeconds,
};

/** `POST .../sdkusers/auth` behind the API-key authorizer: `{ authToken, expiresAt }`. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const caller = authorizerContext(event, ['appUid', 'keyId']);
  try {
    const issued = await issueSession(deps, caller, jsonBody(event), new Date());
    logger.info('session issued', { appUid: caller.appUid, keyId: caller.keyId, userId: issued.userId, sessionId: issued.sessionId });
    return jsonResponse(200, { authToken: issued.authToken, expiresAt: issued.expiresAt });
  } catch (error) {
    logger.warn('session not issued', { appUid: caller.appUid, keyId: caller.keyId, errorType: (error as Error).name, errorMessage: (error as Error).message });
    return errorResponse(error);
  }
};
