import { documentClient } from '../stores/document-client';
import { jsonBody, jsonResponse, proxyHandler } from '../lambda/http';
import { recordRevocationReport } from '../lambda/metrics';
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
 * keys are valid. Logs key ids and hash tags, never a key; counts each
 * processed report with the keys it named and revoked.
 */
export const handler = proxyHandler('keys/revoke', async (event) => {
  const outcome = await revokeReportedKeys(deps, jsonBody(event));
  for (const key of outcome.revoked) logger.info('key revoked by report', { appUid: key.appUid, keyId: key.keyId });
  logger.info('revocation report', { received: outcome.received, revoked: outcome.revoked.length, unknownHashTags: outcome.unknown, malformed: outcome.malformed });
  recordRevocationReport(outcome.revoked.length + outcome.unknown.length, outcome.revoked.length);
  return jsonResponse(202, { received: outcome.received });
});
