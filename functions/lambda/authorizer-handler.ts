import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { allowAppPolicy, type AuthorizerResult } from './policy';
import { logger } from './services';

/** The one refusal API Gateway turns into 401: the message must be exactly `Unauthorized`. Made once, thrown often. */
const UNAUTHORIZED = new Error('Unauthorized');

/** What an authorizer's verification decided, reduced to what the policy needs. */
export type AuthorizerDecision =
  | { readonly allow: true; readonly principalId: string; readonly appUid: string; readonly context: Record<string, string> }
  | { readonly allow: false; readonly reason: string; readonly logFields: Record<string, string> };

/**
 * A REQUEST authorizer: a refusal throws exactly `Unauthorized` (API Gateway's
 * 401); an Allow is scoped to the caller's app (another app's path gets 403
 * from API Gateway's policy evaluation); any other failure propagates, which
 * API Gateway answers with 500. Never an Allow on error.
 */
export function requestAuthorizer(
  credential: string,
  decide: (event: APIGatewayRequestAuthorizerEvent) => Promise<AuthorizerDecision>,
): (event: APIGatewayRequestAuthorizerEvent) => Promise<AuthorizerResult> {
  return async (event) => {
    let decision: AuthorizerDecision;
    try {
      decision = await decide(event);
    } catch (error) {
      logger.error(`${credential} verification failed; refusing`, { error: error as Error });
      throw error;
    }
    if (!decision.allow) {
      // Malformed values never reach DynamoDB and are what scanners and typos send: logged at DEBUG so
      // a flood of them costs neither log volume nor time. Refusals of well-formed values are INFO.
      if (decision.reason === 'malformed') logger.debug(`${credential} refused`, { reason: decision.reason });
      // A record whose seal does not verify was written without the pepper: someone is at the table. Worth an alarm.
      else if (decision.reason === 'tampered') logger.warn(`${credential} refused`, { reason: decision.reason, ...decision.logFields });
      else logger.info(`${credential} refused`, { reason: decision.reason, ...decision.logFields });
      throw UNAUTHORIZED;
    }
    logger.debug(`${credential} accepted`, decision.context);
    return allowAppPolicy(decision.principalId, event.methodArn, decision.appUid, decision.context);
  };
}
