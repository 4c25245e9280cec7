import { logTag, type Hasher } from './hashing';
import type { KeyStore } from './key-store';
import type { TokenFormat } from './token-format';

/**
 * Outcome of checking an API key. `malformed` is decided without I/O (length,
 * alphabet, prefix, checksum); the rest after one consistent GetItem.
 */
export type ApiKeyVerification =
  | { readonly code: 'valid'; readonly appUid: string; readonly keyId: string }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | { readonly code: 'expired'; readonly keyId: string; readonly appUid: string };

export interface ApiKeyVerifierDeps {
  readonly keyFormat: TokenFormat;
  readonly hash: Hasher;
  readonly store: Pick<KeyStore, 'findByHash'>;
}

export async function verifyApiKey(deps: ApiKeyVerifierDeps, presented: string | undefined, now: Date): Promise<ApiKeyVerification> {
  if (presented === undefined || !deps.keyFormat.isWellFormed(presented)) return { code: 'malformed' };
  const keyHash = await deps.hash(presented);
  const key = await deps.store.findByHash(keyHash);
  if (!key) return { code: 'not_found', hashTag: logTag(keyHash) };
  if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= now.getTime()) {
    return { code: 'expired', keyId: key.keyId, appUid: key.appUid };
  }
  return { code: 'valid', appUid: key.appUid, keyId: key.keyId };
}
