import { adminHandler } from '../lambda/admin-handler';
import { appPlanDeps } from '../lambda/app-plans';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { createKey } from '../domain/keys';

const services = servicesFromEnvironment();
const keys = keyAdminDeps(services);
// Plans on: a new key carries its app's gateway key, and a new app gets the default plan.
const deps = services.plans ? { ...keys, plans: appPlanDeps(services.plans, keys.store) } : keys;

/** Payload `{ appUid, name, expiresAt?, requestedBy? }` → `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt? }`. */
export const handler = adminHandler('create-key', (input) => createKey(deps, input));
