import { requestAuthorizer } from '../core/authorizer-handler';
import { singleHeader } from '../core/headers';
import { KeyStore } from '../core/key-store';
import { runtimeFromEnvironment } from '../core/runtime';
import { verifyApiKey } from '../core/verify';

const runtime = runtimeFromEnvironment();
const deps = { keyFormat: runtime.keyFormat, hash: runtime.hash, store: new KeyStore(runtime.db, runtime.tables.keys) };

export const API_KEY_HEADER = 'x-api-key';

/** REQUEST authorizer for `x-api-key`: context `{ appUid, keyId, role: 'app-owner' }`. */
export const handler = requestAuthorizer('api key', async (event) => {
  const result = await verifyApiKey(deps, singleHeader(event, API_KEY_HEADER), new Date());
  switch (result.code) {
    case 'valid':
      return {
        allow: true,
        principalId: result.keyId,
        appUid: result.appUid,
        context: { appUid: result.appUid, keyId: result.keyId, role: 'app-owner' },
      };
    case 'malformed':
      return { allow: false, reason: result.code, logFields: {} };
    case 'not_found':
      return { allow: false, reason: result.code, logFields: { hashTag: result.hashTag } };
    case 'expired':
      return { allow: false, reason: result.code, logFields: { keyId: result.keyId, appUid: result.appUid } };
  }
});
