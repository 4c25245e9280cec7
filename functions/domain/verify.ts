import { logTag, type Hasher } from './hashing';
import type { CredentialLookup } from '../stores/credential-lookup';
import type { KeyMetadata } from '../stores/key-store';
import type { Session } from '../stores/session-store';
import type { CredentialFormat } from './credential-format';

/**
 * The two credential checks, API key and session token. Both follow one path:
 * reject a malformed value with no I/O (length, alphabet, prefix, checksum),
 * hash it with the pepper, read the hash item with one consistent GetItem, and
 * treat an item past its `expiresAt` as expired even if it still exists.
 */
type Lookup<T> =
  | { readonly code: 'valid'; readonly record: T; readonly credentialHash: string }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | { readonly code: 'expired'; readonly record: T };

const MALFORMED = { code: 'malformed' } as const;

async function lookUpCredential<T extends { readonly expiresAt?: string }>(
  format: CredentialFormat,
  hash: Hasher,
  findByHash: CredentialLookup<T>,
  presented: string | undefined,
  now: Date,
  expiryRequired: boolean,
): Promise<Lookup<T>> {
  if (presented === undefined || !format.isWellFormed(presented)) return MALFORMED;
  const credentialHash = await hash(presented);
  const record = await findByHash(credentialHash);
  if (!record) return { code: 'not_found', hashTag: logTag(credentialHash) };
  if (isExpired(record.expiresAt, now, expiryRequired)) return { code: 'expired', record };
  return { code: 'valid', record, credentialHash };
}

/** Fail closed: an expiry that is missing where required, or unreadable, counts as passed. */
export function isExpired(expiresAt: string | undefined, now: Date, required: boolean): boolean {
  return expiresAt === undefined ? required : !(Date.parse(expiresAt) > now.getTime());
}

/** Enabled unless it says otherwise: items from before keys could be disabled carry no flag. A flag other than `true` (fail closed) is not enabled. */
export function isEnabled(enabled: unknown): boolean {
  return enabled === undefined || enabled === true;
}

export type ApiKeyVerification =
  | { readonly code: 'valid'; readonly appUid: string; readonly keyId: string }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | { readonly code: 'expired'; readonly keyId: string; readonly appUid: string }
  | { readonly code: 'disabled'; readonly keyId: string; readonly appUid: string };

export interface ApiKeyVerifierDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly findKey: CredentialLookup<KeyMetadata>;
  /** Told of every key let in (see last-used.ts); must return at once and never throw. */
  readonly recordUse?: (keyHash: string, keyId: string, now: Date) => void;
}

export async function verifyApiKey(deps: ApiKeyVerifierDeps, presented: string | undefined, now: Date): Promise<ApiKeyVerification> {
  const result = await lookUpCredential(deps.keyFormat, deps.hash, deps.findKey, presented, now, false);
  if (result.code === 'expired') return { code: 'expired', appUid: result.record.appUid, keyId: result.record.keyId };
  if (result.code !== 'valid') return result;
  const { appUid, keyId, enabled } = result.record;
  if (!isEnabled(enabled)) return { code: 'disabled', appUid, keyId };
  deps.recordUse?.(result.credentialHash, keyId, now);
  return { code: 'valid', appUid, keyId };
}

export type SessionVerification =
  | { readonly code: 'valid'; readonly session: Session }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | { readonly code: 'expired'; readonly sessionId: string };

export interface SessionVerifierDeps {
  readonly sessionFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly findSession: CredentialLookup<Session>;
}

/** Reads only the sessions table: a session outlives the key that created it. */
export async function verifySessionToken(deps: SessionVerifierDeps, token: string | undefined, now: Date): Promise<SessionVerification> {
  const result = await lookUpCredential(deps.sessionFormat, deps.hash, deps.findSession, token, now, true);
  if (result.code === 'valid') return { code: 'valid', session: result.record };
  if (result.code === 'expired') return { code: 'expired', sessionId: result.record.sessionId };
  return result;
}
