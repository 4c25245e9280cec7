import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from '../stores/document-client';
import { errorResponse, jsonBody, jsonResponse } from '../lambda/http';
import { logger, servicesFromEnvironment } from '../lambda/services';
import { KeyStore } from '../stores/key-store';
import { revokeReportedKeys } from '../domain/revocation';

const services = servicesFromEnvironment();
const deps = {
  keyFormat: services.keyFormat,
  hash: services.hash,
  store: new KeyStore(documentClient(services.dynamodb), services.tables.keys),
  now: () => new Date(),
};

/**
 * `POST /api/v1/keys/revoke`, public: `{ keys: [...] }` → 202 `{ received }`
 * whether or not any key existed, so the answer tells nothing about which
 * keys are valid. Logs key ids and hash tags, never a key.
 */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const outcome = await revokeReportedKeys(deps, jsonBody(event));
    for (const key of outcome.revoked) logger.info('key revoked by report', { appUid: key.appUid, keyId: key.keyId });
    logger.info('revocation report', { received: outcome.received, revoked: outcome.revoked.length, unknownHashTags: outcome.unknown, malformed: outcome.malformed });
    return jsonResponse(202, { received: outcome.received });
  } catch (error) {
    logger.warn('revocation report not processed', { errorType: (error as Error).name, errorMessage: (error as Error).message });
    return errorResponse(error);
  }
};
