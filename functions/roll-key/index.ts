import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { rollKey } from '../domain/keys';

const deps = keyAdminDeps(servicesFromEnvironment());

/**
 * Payload `{ appUid, keyId, gracePeriodSeconds?, name?, expiresAt?, requestedBy? }` →
 * `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt?, rolledFromKeyId, previousKeyExpiresAt }`.
 */
export const handler = adminHandler('roll-key', (input) => rollKey(deps, input));
