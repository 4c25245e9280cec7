import * as z from 'zod/mini';
import { activityEvent } from './activity';
import { logTag, type Hasher } from './hashing';
import type { CredentialFormat } from './credential-format';
import type { KeyStore } from '../stores/key-store';
import { parseInput } from './validation';

/**
 * Revocation by report (`POST /api/v1/keys/revoke`): whoever holds a leaked
 * key may have it deleted, with no other credential. Holding the key is the
 * proof, and revoking a key gives its holder nothing. The caller learns only
 * how many entries were received, never which keys existed.
 */
export const MAX_REPORTED_KEYS = 100;

/** Reported keys revoked at a time: bounds the function's time for 100 keys without a burst of 100 transactions. */
const CONCURRENCY = 8;

export const revokeKeysBody = z.strictObject({
  keys: z
    .array(z.string({ error: 'keys must contain only strings' }), { error: 'keys must be an array of API keys' })
    .check(z.minLength(1, 'keys must not be empty'), z.maxLength(MAX_REPORTED_KEYS, `keys must have at most ${MAX_REPORTED_KEYS} entries`)),
});

export interface RevocationDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly store: Pick<KeyStore, 'deleteByHash'>;
  readonly now: () => Date;
}

export interface RevokedKey {
  readonly keyId: string;
  readonly appUid: string;
}

/** What a report did. Only `received` goes back to the caller; the rest is for the log. */
export interface RevocationOutcome {
  /** Entries in the request, well-formed or not. */
  readonly received: number;
  /** Keys deleted by this report. */
  readonly revoked: RevokedKey[];
  /** Hash tags of well-formed keys that do not exist (any more). */
  readonly unknown: string[];
  /** Entries that are not well-formed keys of this deployment (session tokens, other text). */
  readonly malformed: number;
}

/**
 * Deletes each well-formed reported key that exists, exactly as delete-key
 * does. Malformed entries are counted and ignored, repeated ones revoked once.
 * A store failure fails the whole report (the caller tries again); keys
 * revoked before it stay revoked.
 */
export async function revokeReportedKeys(deps: RevocationDeps, body: unknown): Promise<RevocationOutcome> {
  const { keys } = parseInput(revokeKeysBody, body, 'request body');
  const wellFormed = keys.filter((key) => deps.keyFormat.isWellFormed(key));
  const distinct = [...new Set(wellFormed)];
  const revoked: RevokedKey[] = [];
  const unknown: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < distinct.length) {
      const keyHash = await deps.hash(distinct[next++]!);
      const deleted = await deps.store.deleteByHash(keyHash, (current) =>
        activityEvent({ now: deps.now(), action: 'revoked-by-report', keyId: current.keyId, details: { name: current.name } }),
      );
      if (deleted) revoked.push(deleted);
      else unknown.push(logTag(keyHash));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, distinct.length) }, worker));
  return { received: keys.length, revoked, unknown, malformed: keys.length - wellFormed.length };
}
