import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { authorizerEvent, gatewayOutcome, methodArn, proxyEvent } from './events';

/**
 * The session flow through the handlers, as API Gateway would drive them: a
 * key's authorizer context, `POST sdkusers/auth` with it, and the session
 * authorizer's answer for a token.
 */

/** Creates a key and returns the authorizer context API Gateway would pass to sdkusers/auth. */
export async function keyCaller(appUid: string) {
  const created = await createKeyHandler({ appUid, name: 'server' });
  const outcome = await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('POST', appUid, 'sdkusers/auth')));
  if (outcome.status !== 200) throw new Error(`key refused with ${outcome.status}`);
  return { created, context: outcome.context };
}

export async function authenticate(context: Record<string, string>, body: unknown) {
  const response = await sdkUsersAuth(proxyEvent({ context, body: typeof body === 'string' ? body : JSON.stringify(body) }));
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

/** A session token for `body`'s user, or an error if sdkusers/auth did not answer 200. */
export async function signIn(context: Record<string, string>, body: unknown): Promise<string> {
  const response = await authenticate(context, body);
  if (response.status !== 200) throw new Error(`sdkusers/auth answered ${response.status}: ${JSON.stringify(response.body)}`);
  return String(response.body.authToken);
}

export const bearer = (token: string, appUid: string, route = 'sdkusers/me') => authorizerEvent({ Authorization: `Bearer ${token}` }, methodArn('GET', appUid, route));

/** What API Gateway answers for the token on the app's `sdkusers/me`: 200, 401 or 403. */
export async function sessionStatus(token: string, appUid: string): Promise<number> {
  return (await gatewayOutcome(sessionAuthorizer, bearer(token, appUid))).status;
}
