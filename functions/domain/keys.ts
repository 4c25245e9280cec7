import * as z from 'zod/mini';
import { StoreUnavailable, ValidationError } from './errors';
import type { Hasher } from './hashing';
import { randomId } from './ids';
import { AppPlanChanged, type KeyMetadata, type KeyPage, type KeyStore } from '../stores/key-store';
import { gatewayKeyForNewKey, type AppPlanDeps } from './apps';
import type { CredentialFormat } from './credential-format';
import { appUidSchema, keyIdSchema, parseInput } from './validation';

/** The admin operations of DESIGN §5, free of any Lambda event shape. */
export interface KeyAdminDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly store: KeyStore;
  readonly now: () => Date;
  /** Set when plans are on: a new key carries its app's gateway key (and an app without a plan gets the default plan). */
  readonly plans?: AppPlanDeps;
}

export const createKeyInput = z.strictObject({
  appUid: appUidSchema,
  name: z
    .string({ error: 'name must be a string' })
    .check(z.trim(), z.minLength(1, 'name must not be empty'), z.maxLength(100, 'name must be at most 100 characters')),
  expiresAt: z.optional(z.iso.datetime({ offset: true, error: 'expiresAt must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z' })),
});

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
  const keyHash = await deps.hash(apiKey);
  if (deps.plans) await createWithGatewayKey(deps.plans, deps.store, metadata, keyHash);
  else await deps.store.create(metadata, keyHash);
  const { keyId, ...rest } = metadata;
  return { keyId, apiKey, ...rest };
}

/** Writes the key with its app's gateway key, reading that again once if set-app-plan changed it in between. */
async function createWithGatewayKey(plans: AppPlanDeps, store: KeyStore, metadata: KeyMetadata, keyHash: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const gatewayKey = await gatewayKeyForNewKey(plans, metadata.appUid);
    try {
      return await store.create(metadata, keyHash, { gatewayKey });
    } catch (error) {
      if (!(error instanceof AppPlanChanged) || attempt === 2) throw error instanceof AppPlanChanged ? new StoreUnavailable(`${error.message}; nothing was written, try again`) : error;
    }
  }
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
