import * as z from 'zod/mini';
import type { Hasher } from './hashing';
import { randomId } from './ids';
import type { KeyMetadata, KeyPage, KeyStore } from '../stores/key-store';
import type { CredentialFormat } from './credential-format';
import { appUidSchema, expiresAtSchema, futureExpiry, keyIdSchema, keyNameSchema, parseInput } from './validation';

/** The admin operations of DESIGN §5, free of any Lambda event shape. */
export interface KeyAdminDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly store: KeyStore;
  readonly now: () => Date;
}

export const createKeyInput = z.strictObject({ appUid: appUidSchema, name: keyNameSchema, expiresAt: z.optional(expiresAtSchema) });

export const listKeysInput = z.strictObject({
  appUid: appUidSchema,
  limit: z.optional(
    z.int({ error: 'limit must be a whole number' }).check(z.gte(1, 'limit must be between 1 and 100'), z.lte(100, 'limit must be between 1 and 100')),
  ),
  nextToken: z.optional(
    z.string({ error: 'nextToken must be a string' }).check(z.minLength(1, 'nextToken must not be empty'), z.maxLength(2048, 'nextToken is too long')),
  ),
});

export const deleteKeyInput = z.strictObject({ appUid: appUidSchema, keyId: keyIdSchema });

export const DEFAULT_LIST_LIMIT = 50;

export interface CreatedKey extends KeyMetadata {
  /** The plaintext key: returned once, never stored. */
  readonly apiKey: string;
}

export async function createKey(deps: KeyAdminDeps, input: unknown): Promise<CreatedKey> {
  const { appUid, name, expiresAt } = parseInput(createKeyInput, input, 'create-key input');
  const now = deps.now();
  const expiry = expiresAt === undefined ? undefined : futureExpiry(expiresAt, now);
  const apiKey = deps.keyFormat.generate();
  const metadata: KeyMetadata = {
    keyId: randomId('key'),
    appUid,
    name,
    displayPrefix: deps.keyFormat.displayPrefix(apiKey),
    createdAt: now.toISOString(),
    ...(expiry === undefined ? {} : { expiresAt: expiry }),
  };
  await deps.store.create(metadata, await deps.hash(apiKey));
  const { keyId, ...rest } = metadata;
  return { keyId, apiKey, ...rest };
}

/** A key as list-keys shows it: appUid is left out, the caller named it. */
export type ListedKey = Omit<KeyMetadata, 'appUid'>;

export interface ListedKeys {
  readonly keys: ListedKey[];
  readonly nextToken?: string;
}

export async function listKeys(deps: Pick<KeyAdminDeps, 'store'>, input: unknown): Promise<ListedKeys> {
  const { appUid, limit, nextToken } = parseInput(listKeysInput, input, 'list-keys input');
  const page: KeyPage = await deps.store.list(appUid, limit ?? DEFAULT_LIST_LIMIT, nextToken);
  const keys = page.keys.map(({ appUid: _appUid, ...listed }) => listed);
  return page.nextToken ? { keys, nextToken: page.nextToken } : { keys };
}

export async function deleteKey(deps: Pick<KeyAdminDeps, 'store'>, input: unknown): Promise<{ keyId: string; deleted: true }> {
  const { appUid, keyId } = parseInput(deleteKeyInput, input, 'delete-key input');
  await deps.store.delete(appUid, keyId);
  return { keyId, deleted: true };
}
