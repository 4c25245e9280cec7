import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { SessionStore } from '../stores/session-store';
import { UserStore } from '../stores/user-store';
import { revokeSessions } from '../domain/session-admin';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const db = documentClient(services.dynamodb);
const deps = {
  sessions: new SessionStore(db, services.tables.sessions, services.tables.users),
  users: new UserStore(db, services.tables.users),
  now: () => new Date(),
};

/** Payload `{ appUid }` + one of `userId`, `externalId`, `createdByKeyId`, `sessionId` → `{ revoked, incomplete? }`. */
export const handler = adminHandler('revoke-sessions', (input, budget) => revokeSessions(deps, input, budget));
