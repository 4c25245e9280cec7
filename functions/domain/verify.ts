import { logTag, type Hasher } from './hashing';
import type { CredentialLookup } from '../stores/credential-lookup';
import type { KeyHashRecord } from '../stores/key-store';
import type { Session } from '../stores/session-store';
import type { CredentialFormat } from './credential-format';
import { apiKeyHashInput, type LegacyKeyFormat } from './key-formats';
import { sealedKey, sealedSession, SEAL_ATTRIBUTE, type SealedRecord, type Sealer } from './seal';

/**
 * The two credential checks, API key and session token. Both follow one path:
 * reject a malformed value with no I/O (length, alphabet, prefix, checksum;
 * for legacy keys length and pattern), hash it with the pepper, read the hash
 * item with one consistent GetItem, trust it only if its seal verifies
 * (seal.ts), and treat an item past its `expiresAt` as expired even if it
 * still exists.
 */
type Lookup<T> =
  | { readonly code: 'valid'; readonly record: T; readonly credentialHash: string }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | Tampered
  | { readonly code: 'expired'; readonly record: T };

/** The item's seal is missing or wrong: someone without the pepper wrote it. Only the hash tag is logged: the item's own fields are not to be trusted. */
type Tampered = { readonly code: 'tampered'; readonly hashTag: string; readonly seal: 'missing' | 'wrong' };

/** What both verifiers need to check seals. */
interface SealDeps {
  readonly sealer: Sealer;
  /** Accept items with no seal attribute at all (the upgrade window before seal-records has run); a wrong seal is refused regardless. @default false */
  readonly acceptUnsealedRecords?: boolean;
}

const MALFORMED = { code: 'malformed' } as const;

/** What to hash for a presented value, or undefined when it is malformed (refused with no I/O). */
type HashInput = (presented: string) => string | undefined;

async function lookUpCredential<T extends { readonly expiresAt?: string }>(
  hashInput: HashInput,
  hash: Hasher,
  findByHash: CredentialLookup<T>,
  seals: SealDeps,
  sealed: (credentialHash: string, record: T) => SealedRecord,
  presented: string | undefined,
  now: Date,
  expiryRequired: boolean,
): Promise<Lookup<T>> {
  const input = presented === undefined ? undefined : hashInput(presented);
  if (input === undefined) return MALFORMED;
  const credentialHash = await hash(input);
  const record = await findByHash(credentialHash);
  if (!record) return { code: 'not_found', hashTag: logTag(credentialHash) };
  // Before anything of the item is believed, its expiry included: fail closed.
  const seal = await seals.sealer.check(sealed(credentialHash, record), (record as unknown as Record<string, unknown>)[SEAL_ATTRIBUTE]);
  if (seal === 'wrong' || (seal === 'unsealed' && seals.acceptUnsealedRecords !== true)) {
    return { code: 'tampered', hashTag: logTag(credentialHash), seal: seal === 'wrong' ? 'wrong' : 'missing' };
  }
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
  /** `gatewayKey`: the app's gateway API key when it is on a plan, from the same read. */
  | { readonly code: 'valid'; readonly appUid: string; readonly keyId: string; readonly gatewayKey?: string }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | Tampered
  | { readonly code: 'expired'; readonly keyId: string; readonly appUid: string }
  | { readonly code: 'disabled'; readonly keyId: string; readonly appUid: string };

export interface ApiKeyVerifierDeps extends SealDeps {
  readonly keyFormat: CredentialFormat;
  /** Imported keys' own format (see key-formats.ts); without it only keygate keys are accepted. */
  readonly legacyKeyFormat?: LegacyKeyFormat;
  readonly hash: Hasher;
  readonly findKey: CredentialLookup<KeyHashRecord>;
  /** Told of every key let in (see last-used.ts); must return at once and never throw. */
  readonly recordUse?: (keyHash: string, keyId: string, now: Date) => void;
}

export async function verifyApiKey(deps: ApiKeyVerifierDeps, presented: string | undefined, now: Date): Promise<ApiKeyVerification> {
  const result = await lookUpCredential((value) => apiKeyHashInput(deps, value), deps.hash, deps.findKey, deps, sealedKey, presented, now, false);
  if (result.code === 'expired') return { code: 'expired', appUid: result.record.appUid, keyId: result.record.keyId };
  if (result.code !== 'valid') return result;
  const { appUid, keyId, enabled, gatewayKey } = result.record;
  if (!isEnabled(enabled)) return { code: 'disabled', appUid, keyId };
  // An imported key too: credentialHash is its item key's hash, whatever the format.
  deps.recordUse?.(result.credentialHash, keyId, now);
  return { code: 'valid', appUid, keyId, gatewayKey };
}

export type SessionVerification =
  | { readonly code: 'valid'; readonly session: Session }
  | { readonly code: 'malformed' }
  | { readonly code: 'not_found'; readonly hashTag: string }
  | Tampered
  | { readonly code: 'expired'; readonly sessionId: string };

export interface SessionVerifierDeps extends SealDeps {
  readonly sessionFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly findSession: CredentialLookup<Session>;
}

/** Reads only the sessions table: a session outlives the key that created it. */
export async function verifySessionToken(deps: SessionVerifierDeps, token: string | undefined, now: Date): Promise<SessionVerification> {
  const { sessionFormat } = deps;
  const result = await lookUpCredential((value) => (sessionFormat.isWellFormed(value) ? value : undefined), deps.hash, deps.findSession, deps, sealedSession, token, now, true);
  if (result.code === 'valid') return { code: 'valid', session: result.record };
  if (result.code === 'expired') return { code: 'expired', sessionId: result.record.sessionId };
  return result;
}
