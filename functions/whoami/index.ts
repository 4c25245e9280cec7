import { authorizerContext, jsonResponse, proxyHandler } from '../lambda/http';

/** `GET .../whoami`: who the API key says the caller is. */
export const handler = proxyHandler('whoami', async (event) => {
  const { appUid, keyId, role } = authorizerContext(event, ['appUid', 'keyId', 'role']);
  return jsonResponse(200, { appUid, keyId, role });
});
