import { adminHandler } from '../lambda/admin-handler';
import { sessionAdminDeps } from '../lambda/session-admin-deps';
import { deleteUser } from '../domain/session-admin';
import { servicesFromEnvironment } from '../lambda/services';

const deps = sessionAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid }` + one of `userId`, `externalId`, `userEmail` → `{ userId, deleted, sessionsRevoked, incomplete? }`. */
export const handler = adminHandler('delete-user', (input, budget) => deleteUser(deps, input, budget));
