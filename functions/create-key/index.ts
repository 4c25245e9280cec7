import { documentClient } from '../core/document-client';
import { adminHandler } from '../core/admin-handler';
import { KeyStore } from '../core/key-store';
import { createKey } from '../core/keys';
import { runtimeFromEnvironment } from '../core/runtime';

const runtime = runtimeFromEnvironment();
const db = documentClient(runtime.dynamodb);
const deps = {
  keyFormat: runtime.keyFormat,
  hash: runtime.hash,
  store: new KeyStore(db, runtime.tables.keys),
  now: () => new Date(),
};

/** Payload `{ appUid, name, expiresAt? }` → `{ keyId, apiKey, appUid, name, displayPrefix, createdAt, expiresAt? }`. */
export const handler = adminHandler('create-key', (input) => createKey(deps, input));
