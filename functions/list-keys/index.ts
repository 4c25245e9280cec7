import { documentClient } from '../core/document-client';
import { adminHandler } from '../core/admin-handler';
import { KeyStore } from '../core/key-store';
import { listKeys } from '../core/keys';
import { runtimeFromEnvironment } from '../core/runtime';

const runtime = runtimeFromEnvironment();
const db = documentClient(runtime.dynamodb);
const deps = { store: new KeyStore(db, runtime.tables.keys) };

/** Payload `{ appUid, limit?, nextToken? }` → `{ keys: [...], nextToken? }`; never a key or its hash. */
export const handler = adminHandler('list-keys', (input) => listKeys(deps, input));
