import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { deleteKey } from '../domain/keys';

const deps = keyAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid, keyId, requestedBy? }` → `{ keyId, deleted: true }`. Sessions created with the key are left alone. */
export const handler = adminHandler('delete-key', (input) => deleteKey(deps, input));
