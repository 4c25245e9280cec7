import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { ActivityStore } from '../stores/activity-store';
import { listKeyEvents } from '../domain/keys';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const deps = { activity: new ActivityStore(documentClient(services.dynamodb), services.tables.keys) };

/** Payload `{ appUid, keyId?, limit?, nextToken? }` → `{ events: [{ eventId, at, action, keyId, requestedBy?, details? }], nextToken? }`, newest first. */
export const handler = adminHandler('list-key-events', (input) => listKeyEvents(deps, input));
