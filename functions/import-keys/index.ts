import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { importKeys } from '../domain/key-import';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const deps = { ...keyAdminDeps(services), legacyKeyFormat: services.legacyKeyFormat };

/**
 * Payload `{ appUid, keys: [{ key | keyHash, name, expiresAt? }], requestedBy? }` (1-25 keys) →
 * `{ appUid, keys: [metadata] }`; never a key or hash.
 */
export const handler = adminHandler('import-keys', (input) => importKeys(deps, input));
