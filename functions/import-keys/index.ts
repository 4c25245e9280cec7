import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { importKeys } from '../domain/key-import';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = {
  keyFormat: services.keyFormat,
  legacyKeyFormat: services.legacyKeyFormat,
  hash: services.hash,
  store: new KeyStore(db, services.tables.keys),
  now: () => new Date(),
};

/** Payload `{ appUid, keys: [{ key | keyHash, name, expiresAt? }] }` (1-25 keys) → `{ appUid, keys: [metadata] }`; never a key or hash. */
export const handler = adminHandler('import-keys', (input) => importKeys(deps, input));
