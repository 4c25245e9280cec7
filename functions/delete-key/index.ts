import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { deleteKey } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = { store: new KeyStore(db, services.tables.keys), now: () => new Date() };

/** Payload `{ appUid, keyId, requestedBy? }` → `{ keyId, deleted: true }`. Sessions created with the key are left alone. */
export const handler = adminHandler('delete-key', (input) => deleteKey(deps, input));
