import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { documentClient } from '../stores/document-client';
import { corsAllowedOriginsFrom } from '../lambda/config';
import { authorizerContext, jsonResponse, proxyHandler, withCors } from '../lambda/http';
import { servicesFromEnvironment } from '../lambda/services';
import { sessionUserView, UserStore } from '../stores/user-store';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const users = new UserStore(db, services.tables.users);
const corsOrigins = corsAllowedOriginsFrom(process.env);

const sessionUser = proxyHandler('sdkusers/me', async (event) => {
  const { appUid, userKey, sessionExpiresAt } = authorizerContext(event, ['appUid', 'userKey', 'sessionExpiresAt']);
  const user = await users.get(appUid, userKey);
  if (!user) return jsonResponse(404, { message: 'user not found' });
  return jsonResponse(200, sessionUserView(appUid, user, sessionExpiresAt));
});

/** `GET .../sdkusers/me` behind the session authorizer: the session's user, readable by the allowed origins' pages. */
export const handler = async (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> =>
  withCors(corsOrigins, event, await sessionUser(event, context));
