import { documentClient } from '../stores/document-client';
import { authorizerContext, jsonResponse, proxyHandler } from '../lambda/http';
import { servicesFromEnvironment } from '../lambda/services';
import { sessionUserView, UserStore } from '../stores/user-store';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const users = new UserStore(db, services.tables.users);

/** `GET .../sdkusers/me` behind the session authorizer: the session's user. */
export const handler = proxyHandler('sdkusers/me', async (event) => {
  const { appUid, userKey, sessionExpiresAt } = authorizerContext(event, ['appUid', 'userKey', 'sessionExpiresAt']);
  const user = await users.get(appUid, userKey);
  if (!user) return jsonResponse(404, { message: 'user not found' });
  return jsonResponse(200, sessionUserView(appUid, user, sessionExpiresAt));
});
