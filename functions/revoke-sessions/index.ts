import { adminHandler } from '../lambda/admin-handler';
import { sessionAdminDeps } from '../lambda/session-admin-deps';
import { revokeSessions } from '../domain/session-admin';
import { servicesFromEnvironment } from '../lambda/services';

const deps = sessionAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid }` + one of `userId`, `externalId`, `createdByKeyId`, `sessionId` → `{ revoked, incomplete? }`. */
export const handler = adminHandler('revoke-sessions', (input, budget) => revokeSessions(deps, input, budget));
