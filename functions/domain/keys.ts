import * as z from 'zod/mini';
import { activityEvent, type ActivityEvent } from './activity';
import { StoreUnavailable, ValidationError } from './errors';
import type { Hasher } from './hashing';
import { randomId } from './ids';
import type { ActivityStore } from '../stores/activity-store';
import { AppPlanChanged, type ExpectedGatewayKey, type KeyChanges, type KeyMetadata, type KeyStore } from '../stores/key-store';
import { gatewayKeyForNewKey, type AppPlanDeps } from './apps';
import type { CredentialFormat } from './credential-format';
import { appUidSchema, DEFAULT_LIST_LIMIT, expiresAtSchema, futureExpiry, keyIdSchema, keyNameSchema, pagingFields, parseInput, requestedBySchema } from './validation';
import { isEnabled, isExpired } from './verify';

/** The key admin operations (create-key, list-keys, delete-key), free of any Lambda event shape. */
export interface KeyAdminDeps {
  readonly keyFormat: CredentialFormat;
  readonly hash: Hasher;
  readonly store: KeyStore;
  readonly now: () => Date;
  /** Set when plans are on: a new key carries its app's gateway key (and an app without a plan gets the default plan). */
  readonly plans?: AppPlanDeps;
}

export const createKeyInput = z.strictObject({ appUid: appUidSchema, name: keyNameSchema, expiresAt: z.optional(expiresAtSchema), requestedBy: requestedBySchema });

export const listKeysInput = z.strictObject({ appUid: appUidSchema, ...pagingFields });

export const deleteKeyInput = z.strictObject({ appUid: appUidSchema, keyId: keyIdSchema, requestedBy: requestedBySchema });

export const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 60 * 60;
export const DEFAULT_GRACE_PERIOD_SECONDS = 24 * 60 * 60;

export const rollKeyInput = z.strictObject({
  appUid: appUidSchema,
  keyId: keyIdSchema,
  gracePeriodSeconds: z.optional(
    z
      .int({ error: 'gracePeriodSeconds must be a whole number of seconds' })
      .check(
        z.gte(0, `gracePeriodSeconds must be between 0 and ${MAX_GRACE_PERIOD_SECONDS} (7 days)`),
        z.lte(MAX_GRACE_PERIOD_SECONDS, `gracePeriodSeconds must be between 0 and ${MAX_GRACE_PERIOD_SECONDS} (7 days)`),
      ),
  ),
  name: z.optional(keyNameSchema),
  expiresAt: z.optional(expiresAtSchema),
  requestedBy: requestedBySchema,
});

export const updateKeyInput = z.strictObject({
  appUid: appUidSchema,
  keyId: keyIdSchema,
  name: z.optional(keyNameSchema),
  expiresAt: z.optional(z.nullable(expiresAtSchema)),
  enabled: z.optional(z.boolean({ error: 'enabled must be true or false' })),
  requestedBy: requestedBySchema,
});

export const listKeyEventsInput = z.strictObject({ appUid: appUidSchema, keyId: z.optional(keyIdSchema), ...pagingFields });


export interface CreatedKey extends KeyMetadata {
  /** The plaintext key: returned once, never stored. */
  readonly apiKey: string;
}

/** A new key: the plaintext (for the caller only), its hash, and a fresh keyId. */
async function newSecret(deps: Pick<KeyAdminDeps, 'keyFormat' | 'hash'>) {
  const apiKey = deps.keyFormat.generate();
  return { apiKey, keyHash: await deps.hash(apiKey), keyId: randomId('key'), displayPrefix: deps.keyFormat.displayPrefix(apiKey) };
}

/** A key as created, rolled or imported: enabled, stamped `now`. */
export function newKeyMetadata(
  secret: { keyId: string; displayPrefix: string },
  fields: { appUid: string; name: string; expiresAt?: string; rolledFromKeyId?: string; importedFrom?: KeyMetadata['importedFrom'] },
  now: Date,
): KeyMetadata {
  return {
    keyId: secret.keyId,
    appUid: fields.appUid,
    name: fields.name,
    displayPrefix: secret.displayPrefix,
    createdAt: now.toISOString(),
    ...(fields.expiresAt === undefined ? {} : { expiresAt: fields.expiresAt }),
    enabled: true,
    ...(fields.rolledFromKeyId === undefined ? {} : { rolledFromKeyId: fields.rolledFromKeyId }),
    ...(fields.importedFrom === undefined ? {} : { importedFrom: fields.importedFrom }),
  };
}

/** create-key's output: the contract fields, in the contract's order. */
function createdKey(apiKey: string, { keyId, appUid, name, displayPrefix, createdAt, expiresAt }: KeyMetadata) {
  return { keyId, apiKey, appUid, name, displayPrefix, createdAt, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

export async function createKey(deps: KeyAdminDeps, input: unknown): Promise<ReturnType<typeof createdKey>> {
  const { appUid, name, expiresAt, requestedBy } = parseInput(createKeyInput, input, 'create-key input');
  const now = deps.now();
  const expiry = expiresAt === undefined ? undefined : futureExpiry(expiresAt, now);
  const secret = await newSecret(deps);
  const metadata = newKeyMetadata(secret, { appUid, name, expiresAt: expiry }, now);
  const event = activityEvent({
    now,
    action: 'created',
    keyId: metadata.keyId,
    requestedBy,
    details: { name, ...(expiry === undefined ? {} : { expiresAt: expiry }) },
  });
  if (deps.plans) await writeWithGatewayKey(deps.plans, metadata.appUid, (expected) => deps.store.create(metadata, secret.keyHash, event, expected));
  else await deps.store.create(metadata, secret.keyHash, event);
  return createdKey(secret.apiKey, metadata);
}

/**
 * Writes new keys of `appUid` with its app's gateway key (putting a new app on
 * the default plan), reading that again once if set-app-plan changed it in
 * between; `write` must hold only if the app still has the gateway key it is given.
 */
export async function writeWithGatewayKey(plans: AppPlanDeps, appUid: string, write: (expected: ExpectedGatewayKey) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const gatewayKey = await gatewayKeyForNewKey(plans, appUid);
    try {
      return await write({ gatewayKey });
    } catch (error) {
      if (!(error instanceof AppPlanChanged)) throw error;
      if (attempt === 2) throw new StoreUnavailable(`${error.message}; nothing was written, try again`);
    }
  }
}

export type KeyStatus = 'active' | 'disabled' | 'expired';

/** Expired wins over disabled: re-enabling an expired key would not make it work. */
export function keyStatus(key: Pick<KeyMetadata, 'expiresAt' | 'enabled'>, now: Date): KeyStatus {
  if (isExpired(key.expiresAt, now, false)) return 'expired';
  return isEnabled(key.enabled) ? 'active' : 'disabled';
}

/** A key as list-keys shows it: appUid is left out, the caller named it. */
export interface ListedKey {
  readonly keyId: string;
  readonly name: string;
  readonly displayPrefix: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly status: KeyStatus;
  readonly enabled: boolean;
  readonly lastUsedAt?: string;
  readonly rolledFromKeyId?: string;
  readonly importedFrom?: KeyMetadata['importedFrom'];
}

export function listedKey(key: KeyMetadata, now: Date): ListedKey {
  const { keyId, name, displayPrefix, createdAt, expiresAt, lastUsedAt, rolledFromKeyId, importedFrom } = key;
  return {
    keyId,
    name,
    displayPrefix,
    createdAt,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    status: keyStatus(key, now),
    enabled: isEnabled(key.enabled),
    ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
    ...(rolledFromKeyId === undefined ? {} : { rolledFromKeyId }),
    ...(importedFrom === undefined ? {} : { importedFrom }),
  };
}

export interface ListedKeys {
  readonly keys: ListedKey[];
  readonly nextToken?: string;
}

export async function listKeys(deps: Pick<KeyAdminDeps, 'store' | 'now'>, input: unknown): Promise<ListedKeys> {
  const { appUid, limit, nextToken } = parseInput(listKeysInput, input, 'list-keys input');
  const page = await deps.store.list(appUid, limit ?? DEFAULT_LIST_LIMIT, nextToken);
  const now = deps.now();
  const keys = page.keys.map((key) => listedKey(key, now));
  return page.nextToken ? { keys, nextToken: page.nextToken } : { keys };
}

export async function deleteKey(deps: Pick<KeyAdminDeps, 'store' | 'now'>, input: unknown): Promise<{ keyId: string; deleted: true }> {
  const { appUid, keyId, requestedBy } = parseInput(deleteKeyInput, input, 'delete-key input');
  await deps.store.delete(appUid, keyId, (current) =>
    activityEvent({ now: deps.now(), action: 'deleted', keyId, requestedBy, details: { name: current.name } }),
  );
  return { keyId, deleted: true };
}

export interface RolledKey extends ReturnType<typeof createdKey> {
  readonly rolledFromKeyId: string;
  readonly previousKeyExpiresAt: string;
}

/**
 * A new key for the same app (the old name unless given) whose
 * `rolledFromKeyId` names the old one; the old key's expiry becomes
 * `min(its expiry, now + grace)`, so with grace 0 it is refused at once.
 */
export async function rollKey(deps: KeyAdminDeps, input: unknown): Promise<RolledKey> {
  const { appUid, keyId, gracePeriodSeconds, name, expiresAt, requestedBy } = parseInput(rollKeyInput, input, 'roll-key input');
  const grace = gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS;
  const expiry = expiresAt === undefined ? undefined : futureExpiry(expiresAt, deps.now());
  const secret = await newSecret(deps);
  const { newKey, previousKeyExpiresAt } = await deps.store.roll(appUid, keyId, (current) => {
    // Times are taken after each read of the key, so a roll retried after a concurrent change is stamped when it is written.
    const now = deps.now();
    const graceEnds = new Date(now.getTime() + grace * 1000).toISOString();
    // An expiry earlier than the grace period's end stays; so does one that cannot be read (it already counts as passed).
    const keepsOwn = current.expiresAt !== undefined && !(Date.parse(current.expiresAt) >= Date.parse(graceEnds));
    const previousKeyExpiresAt = keepsOwn ? current.expiresAt! : graceEnds;
    return {
      newKey: newKeyMetadata(secret, { appUid, name: name ?? current.name, expiresAt: expiry, rolledFromKeyId: keyId }, now),
      newKeyHash: secret.keyHash,
      previousKeyExpiresAt,
      event: activityEvent({ now, action: 'rolled', keyId, requestedBy, details: { newKeyId: secret.keyId, gracePeriodSeconds: grace, previousKeyExpiresAt } }),
    };
  });
  return { ...createdKey(secret.apiKey, newKey), rolledFromKeyId: keyId, previousKeyExpiresAt };
}

/**
 * Renames, sets or clears the expiry (`null`), disables or enables. A call
 * that changes nothing writes nothing, not even an event.
 */
export async function updateKey(deps: Pick<KeyAdminDeps, 'store' | 'now'>, input: unknown): Promise<ListedKey> {
  const { appUid, keyId, name, expiresAt, enabled, requestedBy } = parseInput(updateKeyInput, input, 'update-key input');
  if (name === undefined && expiresAt === undefined && enabled === undefined) {
    throw new ValidationError('(body)', 'update-key input needs at least one of name, expiresAt (null clears it) or enabled');
  }
  const expiry = expiresAt === undefined || expiresAt === null ? expiresAt : futureExpiry(expiresAt, deps.now());
  const updated = await deps.store.change(appUid, keyId, (current) => {
    const requested: KeyChanges = { name, expiresAt: expiry, enabled };
    const was: Record<keyof KeyChanges, unknown> = { name: current.name, expiresAt: current.expiresAt ?? null, enabled: isEnabled(current.enabled) };
    const changes: Record<string, unknown> = {};
    const details: Record<string, { from: unknown; to: unknown }> = {};
    for (const field of ['name', 'expiresAt', 'enabled'] as const) {
      const to = requested[field];
      if (to === undefined || to === was[field]) continue;
      changes[field] = to;
      details[field] = { from: was[field], to };
    }
    if (Object.keys(changes).length === 0) return undefined;
    const action: ActivityEvent['action'] = changes.enabled === undefined ? 'updated' : changes.enabled ? 'enabled' : 'disabled';
    // Stamped after each read: a change retried after a concurrent one is logged after it.
    return { changes: changes as KeyChanges, event: activityEvent({ now: deps.now(), action, keyId, requestedBy, details }) };
  });
  return listedKey(updated, deps.now());
}

export interface ListedKeyEvents {
  readonly events: ActivityEvent[];
  readonly nextToken?: string;
}

/** An app's activity log, newest first; with `keyId`, the events about that key. */
export async function listKeyEvents(deps: { readonly activity: ActivityStore }, input: unknown): Promise<ListedKeyEvents> {
  const { appUid, keyId, limit, nextToken } = parseInput(listKeyEventsInput, input, 'list-key-events input');
  const page = await deps.activity.list(appUid, { keyId, limit: limit ?? DEFAULT_LIST_LIMIT, nextToken });
  return page.nextToken ? { events: page.events, nextToken: page.nextToken } : { events: page.events };
}
