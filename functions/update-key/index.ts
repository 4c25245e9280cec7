import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { updateKey } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = { store: new KeyStore(db, services.tables.keys), now: () => new Date() };

/** Payload `{ appUid, keyId, name?, expiresAt? (null clears it), enabled?, requestedBy? }` → the key as list-keys shows it. */
export const handler = adminHandler('update-key', (input) => updateKey(deps, input));
