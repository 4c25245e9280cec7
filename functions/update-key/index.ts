import { adminHandler } from '../lambda/admin-handler';
import { keyAdminDeps } from '../lambda/key-admin';
import { servicesFromEnvironment } from '../lambda/services';
import { updateKey } from '../domain/keys';

const deps = keyAdminDeps(servicesFromEnvironment());

/** Payload `{ appUid, keyId, name?, expiresAt? (null clears it), enabled?, requestedBy? }` → the key as list-keys shows it. */
export const handler = adminHandler('update-key', (input) => updateKey(deps, input));
