import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { createKey } from '../domain/keys';

const deps = keyAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid, name, expiresAt?, requestedBy? }` → `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt? }`. */
export const handler = adminHandler('create-key', (input) => createKey(deps, input));
