import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SEALED_FIELDS, type SealedKind } from '../../lib/shared/seals';
import type { PepperSource } from './hashing';

export { SEAL_ATTRIBUTE } from '../../lib/shared/seals';

/**
 * Sealed records. A seal is a MAC, keyed from the pepper, over every field an
 * authorizer decides on or passes on (lib/shared/seals.ts), stored on the
 * key or session item, and over an app's plan, stored on its registry item.
 * Someone who can write the tables but cannot read the pepper can then no
 * longer move a key to another app, revive an expired or disabled key, hand
 * out another app's user, or put an app on another app's gateway key: any
 * change to a sealed field, or to what the seal is bound to (a sealed item
 * copied elsewhere), leaves a seal that does not verify, and the authorizers
 * (keys, sessions) or the admin writers (plans) refuse the item.
 */

/** Stored seals start with their version, so a later scheme can be told apart and rolled out. */
const SEAL_VERSION = 'v1';
/** Domain separation: the seal key is not the hashing key, though both come from the pepper. */
const SEAL_KEY_LABEL = 'keygate seal v1';

/** A sealed item as read, without pk/sk: `hash` is its own key or token hash (its pk), or an app's appUid; `item` its attributes, typed as found. */
export interface SealedRecord {
  readonly kind: SealedKind;
  readonly hash: string;
  readonly item: Readonly<Record<string, unknown>>;
}

export const sealedKey = (keyHash: string, item: object): SealedRecord => ({ kind: 'key', hash: keyHash, item: item as Record<string, unknown> });
export const sealedSession = (tokenHash: string, item: object): SealedRecord => ({ kind: 'session', hash: tokenHash, item: item as Record<string, unknown> });
/** An app registry item's plan fields, sealed under the appUid (its sort key names it). */
export const sealedApp = (appUid: string, item: object): SealedRecord => ({ kind: 'app', hash: appUid, item: item as Record<string, unknown> });

/**
 * The bytes a seal is computed over: a JSON array of the scheme, the kind,
 * the hash, then the name and the value of each sealed field the item has, in
 * the fixed order (names sit at fixed parity, so the list reads back one way
 * only). JSON quotes every string, so no value can spill into the next, and
 * `""`, `false`, `"false"` and `0` all differ: a changed type breaks the seal
 * too. An absent field (or a DynamoDB NULL, read as null) is left out, named
 * nowhere: a field added to the list later leaves the seals of items without
 * it valid, and adding it to such an item breaks its seal.
 */
export function sealEncoding({ kind, hash, item }: SealedRecord): string {
  // A flat array and a plain loop: this runs on every authorizer request.
  const parts: unknown[] = ['keygate-seal', SEAL_VERSION, kind, hash];
  for (const field of SEALED_FIELDS[kind]) {
    const value = item[field];
    if (value !== undefined && value !== null) parts.push(field, value);
  }
  return JSON.stringify(parts);
}

/** What an item's seal says about it: no seal attribute at all is `unsealed`; anything else that differs is `wrong`. */
export type SealCheck = 'sealed' | 'unsealed' | 'wrong';

/** Seals records and checks their seals, with a key derived from the pepper on first use and kept for the container. */
export interface Sealer {
  /** `v1.<base64url(HMAC-SHA256(seal key, encoding))>`, the seal key being HMAC-SHA256(pepper, "keygate seal v1"). */
  seal(record: SealedRecord): Promise<string>;
  /** Compares `stored` with the seal `record` should carry, in constant time. */
  check(record: SealedRecord, stored: unknown): Promise<SealCheck>;
}

/** Records a container remembers as verified (see createSealer) before it starts over: bounded memory, like last-used.ts. */
const MAX_REMEMBERED = 10_000;

export function createSealer(pepper: PepperSource): Sealer {
  // Derived once, like the hashing key: HMAC key set-up is most of an HMAC's cost.
  let key: KeyObject | undefined;
  const keyOnce = async () => (key ??= createSecretKey(createHmac('sha256', Buffer.from(await pepper(), 'utf8')).update(SEAL_KEY_LABEL).digest()));
  const sealWith = (sealKey: KeyObject, record: SealedRecord) => `${SEAL_VERSION}.${createHmac('sha256', sealKey).update(sealEncoding(record)).digest('base64url')}`;
  /**
   * By kind and hash, the sealed fields and seal of the last record that
   * verified. The same key is read on request after request, and a record
   * whose sealed fields are all identical (===, types included) to one that
   * verified, under the identical seal, would verify again: it is let through
   * without a second HMAC (about 10 µs on a busy authorizer). Any change to a
   * field or to the seal misses and is checked in full.
   */
  const verified = new Map<string, { readonly values: readonly unknown[]; readonly seal: string }>();
  const sameFields = (values: readonly unknown[], record: SealedRecord) => SEALED_FIELDS[record.kind].every((field, i) => values[i] === record.item[field]);
  return {
    seal: async (record) => sealWith(key ?? (await keyOnce()), record),
    check: async (record, stored) => {
      if (stored === undefined) return 'unsealed';
      if (typeof stored !== 'string') return 'wrong';
      const id = `${record.kind}#${record.hash}`;
      const known = verified.get(id);
      if (known !== undefined && sameFields(known.values, record) && sameSeal(stored, known.seal)) return 'sealed';
      if (!sameSeal(stored, sealWith(key ?? (await keyOnce()), record))) return 'wrong';
      if (verified.size >= MAX_REMEMBERED) verified.clear();
      verified.set(id, { values: SEALED_FIELDS[record.kind].map((field) => record.item[field]), seal: stored });
      return 'sealed';
    },
  };
}

/** Constant-time equality of two seals (a length mismatch returns at once: every seal of a version has the same length). */
function sameSeal(a: string, b: string): boolean {
  // Bytes, not characters: a stored seal of the right length in characters may be longer in UTF-8.
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
