import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { listKeys } from '../domain/keys';

const deps = keyAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid, limit?, nextToken? }` → `{ keys: [...], nextToken? }`, each key with its status and lastUsedAt; never a key or its hash. */
export const handler = adminHandler('list-keys', (input) => listKeys(deps, input));
