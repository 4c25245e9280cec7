import { documentClient } from '../core/document-client';
import { adminHandler } from '../core/admin-handler';
import { KeyStore } from '../core/key-store';
import { deleteKey } from '../core/keys';
import { runtimeFromEnvironment } from '../core/runtime';

const runtime = runtimeFromEnvironment();
const db = documentClient(runtime.dynamodb);
const deps = { store: new KeyStore(db, runtime.tables.keys) };

/** Payload `{ appUid, keyId }` → `{ keyId, deleted: true }`. Sessions created with the key are left alone. */
export const handler = adminHandler('delete-key', (input) => deleteKey(deps, input));
