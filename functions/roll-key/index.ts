import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { rollKey } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = {
  keyFormat: services.keyFormat,
  hash: services.hash,
  store: new KeyStore(db, services.tables.keys),
  now: () => new Date(),
};

/**
 * Payload `{ appUid, keyId, gracePeriodSeconds?, name?, expiresAt?, requestedBy? }` →
 * `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt?, rolledFromKeyId, previousKeyExpiresAt }`.
 */
export const handler = adminHandler('roll-key', (input) => rollKey(deps, input));
