import type { APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { ERROR_OUTCOME, VALID_OUTCOME, type CredentialKind } from '../../lib/shared/metrics';
import { needsOperator } from '../domain/errors';
import { allowPolicy, type AuthorizerResult, type PolicyScope } from './policy';
import { invocationStarted, logger } from './logger';
import { verificationCounter } from './metrics';

/** The one refusal API Gateway turns into 401: the message must be exactly `Unauthorized`. Made once, thrown often. */
const UNAUTHORIZED = new Error('Unauthorized');

/** What an authorizer's verification decided, reduced to what the policy needs. */
export type AuthorizerDecision =
  | {
      readonly allow: true;
      readonly principalId: string;
      readonly appUid: string;
      readonly context: Record<string, string>;
      /** The app's gateway API key, returned to API Gateway for its usage plan (plans on). */
      readonly usageIdentifierKey?: string;
    }
  | { readonly allow: false; readonly reason: string; readonly logFields: Record<string, string> };

const LABEL: Record<CredentialKind, string> = { api_key: 'api key', session_token: 'session token' };

/**
 * A REQUEST authorizer: a refusal throws exactly `Unauthorized` (API Gateway's
 * 401); an Allow is scoped by `scope` (see policy.ts: in path scope another
 * app's path gets 403 from API Gateway's policy evaluation); any other
 * failure propagates, which API Gateway answers with 500. Never an Allow on error.
 *
 * Each invocation counts one verification by credential kind and outcome
 * (metrics.ts batches the writes), and its log lines carry the Lambda
 * request id and, where it helps to find a refusal, API Gateway's request id
 * (`apiRequestId`, the `x-amzn-RequestId` the client got and the access log's
 * `requestId`).
 */
export function requestAuthorizer(
  credential: CredentialKind,
  scope: PolicyScope,
  decide: (event: APIGatewayRequestAuthorizerEvent) => Promise<AuthorizerDecision>,
): (event: APIGatewayRequestAuthorizerEvent, context?: Context) => Promise<AuthorizerResult> {
  const label = LABEL[credential];
  const recordVerification = verificationCounter(credential);
  return async (event, context) => {
    invocationStarted(context);
    const started = performance.now();
    let verdict: { readonly allowed: AuthorizerResult } | { readonly refused: Extract<AuthorizerDecision, { allow: false }> };
    try {
      const decision = await decide(event);
      verdict = decision.allow ? { allowed: allowPolicy(scope, decision.principalId, event.methodArn, decision.appUid, decision.context, decision.usageIdentifierKey) } : { refused: decision };
    } catch (error) {
      recordVerification(ERROR_OUTCOME, performance.now() - started);
      // A transient store failure or a misconfiguration; either way API Gateway answers 500, never an Allow.
      logger.error(`${label} verification failed; refusing`, {
        errorType: (error as Error).name,
        retryable: (error as { retryable?: boolean }).retryable ?? false,
        operatorActionNeeded: needsOperator(error),
        error: error as Error,
        apiRequestId: event.requestContext?.requestId,
      });
      throw error;
    }
    if ('refused' in verdict) {
      const { reason, logFields } = verdict.refused;
      // Malformed values never reach DynamoDB and are what scanners and typos send: logged at DEBUG so
      // a flood of them costs neither log volume nor time. Refusals of well-formed values are INFO.
      if (reason === 'malformed') {
        recordVerification(reason);
        logger.debug(`${label} refused`, { reason, apiRequestId: event.requestContext?.requestId });
      } else {
        recordVerification(reason, performance.now() - started);
        // A record whose seal does not verify was written without the pepper: someone is at the table. Worth an alarm.
        const log = reason === 'tampered' ? logger.warn : logger.info;
        log.call(logger, `${label} refused`, { reason, apiRequestId: event.requestContext?.requestId, ...logFields });
      }
      throw UNAUTHORIZED;
    }
    recordVerification(VALID_OUTCOME, performance.now() - started);
    logger.debug(`${label} accepted`, verdict.allowed.context);
    return verdict.allowed;
  };
}
