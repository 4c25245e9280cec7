import { adminHandler } from '../lambda/admin-handler';
import { appPlanDeps } from '../lambda/app-plans';
import { keyAdminDeps } from '../lambda/key-admin';
import { importKeys } from '../domain/key-import';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
const keys = keyAdminDeps(services);
// Plans on: imported keys carry their app's gateway key, and a new app gets the default plan, as with create-key.
const deps = { ...keys, legacyKeyFormat: services.legacyKeyFormat, ...(services.plans && { plans: appPlanDeps(services.plans, keys.store) }) };

/**
 * Payload `{ appUid, keys: [{ key | keyHash, name, expiresAt? }], requestedBy? }` (1-25 keys) →
 * `{ appUid, keys: [metadata] }`; never a key or hash.
 */
export const handler = adminHandler('import-keys', (input) => importKeys(deps, input));
