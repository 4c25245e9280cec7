import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '../stores/document-client';
import { corsAllowedOriginsFrom } from '../lambda/config';
import { authorizerContext, errorResponse, jsonResponse, withCors } from '../lambda/http';
import { logger, servicesFromEnvironment } from '../lambda/services';
import { sessionUserView, UserStore } from '../stores/user-store';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const users = new UserStore(db, services.tables.users);
const corsOrigins = corsAllowedOriginsFrom(process.env);

/** `GET .../sdkusers/me` behind the session authorizer: the session's user, readable by the allowed origins' pages. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => withCors(corsOrigins, event, await sessionUser(event));

async function sessionUser(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  let caller: { appUid: string; userKey: string; sessionExpiresAt: string };
  try {
    caller = authorizerContext(event, ['appUid', 'userKey', 'sessionExpiresAt']);
  } catch (error) {
    return errorResponse(error);
  }
  const { appUid, userKey, sessionExpiresAt } = caller;
  try {
    const user = await users.get(appUid, userKey);
    if (!user) return jsonResponse(404, { message: 'user not found' });
    return jsonResponse(200, sessionUserView(appUid, user, sessionExpiresAt));
  } catch (error) {
    logger.error('sdkusers/me failed', { appUid, error: error as Error });
    return errorResponse(error);
  }
}
