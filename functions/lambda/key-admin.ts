import type { KeyAdminDeps } from '../domain/keys';
import { documentClient } from '../stores/document-client';
import { KeyStore } from '../stores/key-store';
import type { Services } from './services';

/**
 * What the key admin handlers give the core, built once per container. Only
 * create-key and roll-key hash, and only they and update-key seal (and so
 * read the pepper); the pepper is read on first use, so the others never touch it.
 */
export function keyAdminDeps(services: Services): KeyAdminDeps {
  return {
    keyFormat: services.keyFormat,
    hash: services.hash,
    store: new KeyStore(documentClient(services.dynamodb), services.tables.keys, services.sealer),
    now: () => new Date(),
  };
}
