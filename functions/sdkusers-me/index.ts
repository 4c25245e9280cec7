import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '../core/document-client';
import { authorizerContext, errorResponse, jsonResponse } from '../core/http';
import { logger, runtimeFromEnvironment } from '../core/runtime';
import { sessionUserView, UserStore } from '../core/users';

const runtime = runtimeFromEnvironment();
const db = documentClient(runtime.dynamodb);
const users = new UserStore(db, runtime.tables.users);

/** `GET .../sdkusers/me` behind the session authorizer: the session's user. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const { appUid, userKey, sessionExpiresAt } = authorizerContext(event, ['appUid', 'userKey', 'sessionExpiresAt']);
  try {
    const user = await users.get(appUid, userKey);
    if (!user) return jsonResponse(404, { message: 'user not found' });
    return jsonResponse(200, sessionUserView(appUid, user, sessionExpiresAt));
  } catch (error) {
    logger.error('sdkusers/me failed', { appUid, error: error as Error });
    return errorResponse(error);
  }
};
