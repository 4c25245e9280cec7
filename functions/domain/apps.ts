import * as z from 'zod/mini';
import { AppNotFound } from './errors';
import type { AppPage, AppRecord, KeyStore } from '../stores/key-store';
import { appUidSchema, DEFAULT_LIST_LIMIT, pagingFields, parseInput } from './validation';

/**
 * The app registry's admin operations. An app exists from its first key on;
 * the registry item is kept when its last key is deleted (keyCount 0).
 */
export interface AppAdminDeps {
  readonly store: Pick<KeyStore, 'getApp' | 'listApps'>;
}

export const getAppInput = z.strictObject({ appUid: appUidSchema });
export const listAppsInput = z.strictObject(pagingFields);

export async function getApp(deps: AppAdminDeps, input: unknown): Promise<AppRecord> {
  const { appUid } = parseInput(getAppInput, input, 'get-app input');
  const app = await deps.store.getApp(appUid);
  if (!app) throw new AppNotFound(appUid);
  return app;
}

export async function listApps(deps: AppAdminDeps, input: unknown): Promise<AppPage> {
  const { limit, nextToken } = parseInput(listAppsInput, input, 'list-apps input');
  return deps.store.listApps(limit ?? DEFAULT_LIST_LIMIT, nextToken);
}
