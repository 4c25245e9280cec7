import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { listKeys } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = { store: new KeyStore(db, services.tables.keys), now: () => new Date() };

/** Payload `{ appUid, limit?, nextToken? }` → `{ keys: [...], nextToken? }`, each key with its status and lastUsedAt; never a key or its hash. */
export const handler = adminHandler('list-keys', (input) => listKeys(deps, input));
