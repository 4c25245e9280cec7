import * as z from 'zod/mini';
import { activityEvent } from './activity';
import { KeyAlreadyExists, ValidationError } from './errors';
import type { Hasher } from './hashing';
import { randomId } from './ids';
import type { KeyMetadata, KeyStore } from '../stores/key-store';
import type { CredentialFormat } from './credential-format';
import { apiKeyHashInput, HASH_IMPORT_DISPLAY_PREFIX, sha256HashInput, type LegacyKeyFormat } from './key-formats';
import { newKeyMetadata, writeWithGatewayKey } from './keys';
import type { AppPlanDeps } from './apps';
import { appUidSchema, exactlyOneOf, expiresAtSchema, futureExpiry, keyNameSchema, parseInput, requestedBySchema } from './validation';
import { ENV } from '../../lib/shared/environment';
import { MAX_IMPORT_KEYS } from '../../lib/shared/functions';

/**
 * import-keys: existing customers' keys become keygate keys, so nobody has to
 * hand out new ones. A key comes as its plaintext (`key`: hashed here with
 * the pepper, never stored) or as the SHA-256 hash another system kept
 * (`keyHash`, hex). Either way it is stored like a created key (hash item +
 * app item, see key-formats.ts for what is hashed), enabled, with an
 * `imported` event in the same transaction, and from then on verifies, lists,
 * rolls, updates, disables, deletes and expires like one.
 */
export interface KeyImportDeps {
  readonly keyFormat: CredentialFormat;
  readonly legacyKeyFormat?: LegacyKeyFormat;
  readonly hash: Hasher;
  readonly store: Pick<KeyStore, 'createMany'>;
  readonly now: () => Date;
  /** Set when plans are on: imported keys carry their app's gateway key, as create-key's do. */
  readonly plans?: AppPlanDeps;
}

/** Longest plaintext accepted; the legacy pattern's own bound is checked after. */
const MAX_KEY_LENGTH = 512;

const importedKeyInput = z
  .strictObject({
    key: z.optional(z.string({ error: 'key must be a string' }).check(z.minLength(1, 'key must not be empty'), z.maxLength(MAX_KEY_LENGTH, `key must be at most ${MAX_KEY_LENGTH} characters`))),
    keyHash: z.optional(z.string({ error: 'keyHash must be a string' }).check(z.regex(/^[0-9A-Fa-f]{64}$/, 'keyHash must be a SHA-256 hash: 64 hexadecimal characters'))),
    name: keyNameSchema,
    expiresAt: z.optional(expiresAtSchema),
  })
  .check(exactlyOneOf(['key', 'keyHash']));

export const importKeysInput = z.strictObject({
  appUid: appUidSchema,
  keys: z
    .array(importedKeyInput, { error: 'keys must be an array of { key | keyHash, name, expiresAt? }' })
    .check(z.minLength(1, 'keys must not be empty'), z.maxLength(MAX_IMPORT_KEYS, `keys must have at most ${MAX_IMPORT_KEYS} entries; send more in several calls`)),
  requestedBy: requestedBySchema,
});

/** An imported key as list-keys shows it. */
export type ImportedKey = Omit<KeyMetadata, 'appUid'>;

export interface ImportedKeys {
  readonly appUid: string;
  readonly keys: ImportedKey[];
}

type ImportedKeyInput = z.output<typeof importedKeyInput>;

/** What one entry is hashed as and shown as; a value that can never verify is refused. */
function importedSecret(deps: KeyImportDeps, entry: ImportedKeyInput, field: string): { hashInput: string; displayPrefix: string; importedFrom: 'key' | 'keyHash' } {
  if (entry.key !== undefined) {
    const { key } = entry;
    // Hashed exactly as the authorizer hashes a presented key, so an imported key verifies.
    const hashInput = apiKeyHashInput(deps, key);
    if (hashInput !== undefined) {
      const displayPrefix = deps.keyFormat.isWellFormed(key) ? deps.keyFormat.displayPrefix(key) : deps.legacyKeyFormat!.displayPrefix(key);
      return { hashInput, displayPrefix, importedFrom: 'key' };
    }
    // Never the value: it is a key.
    const legacy = deps.legacyKeyFormat ? 'the legacy key pattern' : `a legacy key pattern (none is configured: legacyKeys on the construct, ${ENV.legacyKeyPattern} locally)`;
    throw new ValidationError(`${field}.key`, `${field}.key matches neither the keygate key format nor ${legacy}, so it could never be accepted`);
  }
  if (!deps.legacyKeyFormat) {
    throw new ValidationError(
      `${field}.keyHash`,
      `${field}.keyHash: a key imported from its hash is accepted only through the legacy key pattern, and none is configured (legacyKeys on the construct, ${ENV.legacyKeyPattern} locally)`,
    );
  }
  return { hashInput: sha256HashInput(entry.keyHash!), displayPrefix: HASH_IMPORT_DISPLAY_PREFIX, importedFrom: 'keyHash' };
}

function parseImport(input: unknown) {
  try {
    return parseInput(importKeysInput, input, 'import-keys input');
  } catch (error) {
    // Messages of entries name the field without its position: add it, so a caller with 25 keys knows which.
    if (error instanceof ValidationError && error.field.startsWith('keys[') && !error.message.includes('keys[')) {
      throw new ValidationError(error.field, `${error.field}: ${error.message}`);
    }
    throw error;
  }
}

export async function importKeys(deps: KeyImportDeps, input: unknown): Promise<ImportedKeys> {
  const { appUid, keys, requestedBy } = parseImport(input);
  const now = deps.now();
  const firstIndexOf = new Map<string, number>();
  const entries = keys.map((entry, index) => {
    const field = `keys[${index}]`;
    const expiresAt = entry.expiresAt === undefined ? undefined : futureExpiry(entry.expiresAt, now, `${field}.expiresAt`);
    const secret = importedSecret(deps, entry, field);
    // keyNameSchema refuses keygate keys (noCredential); legacy keys are known only here.
    if ((entry.key !== undefined && entry.name.includes(entry.key)) || deps.legacyKeyFormat?.matches(entry.name)) {
      throw new ValidationError(`${field}.name`, `${field}.name must not contain an API key`);
    }
    const first = firstIndexOf.get(secret.hashInput);
    if (first !== undefined) throw new ValidationError(field, `${field} is the same key as keys[${first}]`);
    firstIndexOf.set(secret.hashInput, index);
    const { importedFrom } = secret;
    const metadata = newKeyMetadata({ keyId: randomId('key'), displayPrefix: secret.displayPrefix }, { appUid, name: entry.name, expiresAt, importedFrom }, now);
    // No display prefix in the event: of a legacy key it is the key's first characters.
    const details = { name: entry.name, importedFrom, ...(expiresAt === undefined ? {} : { expiresAt }) };
    const event = activityEvent({ now, action: 'imported', keyId: metadata.keyId, requestedBy, details });
    return { metadata, event, hashInput: secret.hashInput };
  });

  const records = await Promise.all(entries.map(async ({ metadata, event, hashInput }) => ({ metadata, event, keyHash: await deps.hash(hashInput) })));
  try {
    if (deps.plans) await writeWithGatewayKey(deps.plans, appUid, (expected) => deps.store.createMany(appUid, records, expected));
    else await deps.store.createMany(appUid, records);
  } catch (error) {
    if (error instanceof KeyAlreadyExists) {
      throw new KeyAlreadyExists(error.index, `keys[${error.index}] is already stored as a key (imported before?); nothing was written`);
    }
    throw error;
  }
  return { appUid, keys: records.map(({ metadata: { appUid: _appUid, ...key } }) => key) };
}
