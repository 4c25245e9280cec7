import type { KeyAdminDeps } from '../domain/keys';
import { documentClient } from '../stores/document-client';
import { KeyStore } from '../stores/key-store';
import type { Services } from './services';

/**
 * What the key admin handlers give the core, built once per container. Only
 * create-key, roll-key and import-keys hash, and they and update-key seal
 * (see seal.ts): they are the key admin functions given the pepper, and read
 * it during init (see services.ts); the others are given none and never touch it.
 */
export function keyAdminDeps(services: Services): KeyAdminDeps {
  return {
    keyFormat: services.keyFormat,
    hash: services.hash,
    store: new KeyStore(documentClient(services.dynamodb), services.tables.keys, services.sealer),
    now: () => new Date(),
  };
}
