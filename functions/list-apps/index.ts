import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { KeyStore } from '../stores/key-store';
import { listApps } from '../domain/apps';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const deps = { store: new KeyStore(documentClient(services.dynamodb), services.tables.keys) };

/** Payload `{ limit?, nextToken? }` → `{ apps: [{ appUid, createdAt, keyCount, plan?, gatewayKeyId? }], nextToken? }`. */
export const handler = adminHandler('list-apps', (input) => listApps(deps, input));
