import * as z from 'zod/mini';
import { ValidationError } from './errors';
import type { Hasher } from './hashing';
import { randomId } from './ids';
import type { KeyMetadata, KeyPage, KeyStore } from '../stores/key-store';
import type { CredentialFormat } from './credential-format';
import { appUidSchema, DEFAULT_LIST_LIMIT, keyIdSchema, pagingFields, parseInput } from './validation';

/** The key admin operations (create-key, list-keys, delete-key), free of any Lambda event shape. */
export interface KeyAdminDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly store: KeyStore;
  readonly now: () => Date;
}

export const createKeyInput = z.strictObject({
  appUid: appUidSchema,
  name: z
    .string({ error: 'name must be a string' })
    .check(z.trim(), z.minLength(1, 'name must not be empty'), z.maxLength(100, 'name must be at most 100 characters')),
  expiresAt: z.optional(z.iso.datetime({ offset: true, error: 'expiresAt must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z' })),
});

export const listKeysInput = z.strictObject({ appUid: appUidSchema, ...pagingFields });

export const deleteKeyInput = z.strictObject({ appUid: appUidSchema, keyId: keyIdSchema });

export interface CreatedKey extends KeyMetadata {
  /** The plaintext key: returned once, never stored. */
  readonly apiKey: string;
}

export async function createKey(deps: KeyAdminDeps, input: unknown): Promise<CreatedKey> {
  const { appUid, name, expiresAt } = parseInput(createKeyInput, input, 'create-key input');
  const now = deps.now();
  let expiry: string | undefined;
  if (expiresAt !== undefined) {
    const at = new Date(expiresAt);
    if (at.getTime() <= now.getTime()) {
      throw new ValidationError('expiresAt', 'expiresAt must be in the future');
    }
    expiry = at.toISOString();
  }
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
