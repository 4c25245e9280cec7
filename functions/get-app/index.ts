import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { getApp } from '../domain/apps';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const deps = { store: new KeyStore(documentClient(services.dynamodb), services.tables.keys) };

/** Payload `{ appUid }` → `{ appUid, createdAt, keyCount, plan?, gatewayKeyId? }`; an app never seen (no key, no plan) fails with AppNotFound. */
export const handler = adminHandler('get-app', (input) => getApp(deps, input));
