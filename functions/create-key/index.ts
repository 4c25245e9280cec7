import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { appPlanDeps } from '../lambda/app-plans';
import { KeyStore } from '../stores/key-store';
import { createKey } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = {
  keyFormat: services.keyFormat,
  hash: services.hash,
  store: new KeyStore(db, services.tables.keys),
  now: () => new Date(),
  ...(services.plans && { plans: appPlanDeps(services.plans, db, services.tables.keys) }),
};

/** Payload `{ appUid, name, expiresAt? }` → `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt? }`. */
export const handler = adminHandler('create-key', (input) => createKey(deps, input));
