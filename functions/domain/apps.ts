import * as z from 'zod/mini';
import { AppNotFound, ConfigurationError, StoreUnavailable, ValidationError } from './errors';
import { randomGatewayKeyValue } from './ids';
import type { AppRecord, KeyStore } from '../stores/key-store';
import type { ActivityStore } from '../stores/activity-store';
import { activityEvent } from './activity';
import { appUidSchema, DEFAULT_LIST_LIMIT, pagingFields, parseInput, requestedBySchema } from './validation';

/**
 * The app registry's admin operations, and apps' plans (issue 17). An app
 * exists from its first key, or from set-app-plan if that comes first; the
 * registry item is kept when its last key is deleted (keyCount 0).
 *
 * An app on a plan has one gateway API key in API Gateway, attached to that
 * plan's usage plan. Its value is kept in the app's registry item and on the
 * hash item of each of its keys, so the API-key authorizer returns it as
 * `usageIdentifierKey` from the one item it reads, and API Gateway throttles
 * and counts the app's requests against the plan. Moving an app between plans
 * keeps its gateway key (and so its quota count); rolling or replacing its
 * keys does too.
 */
export interface AppAdminDeps {
  readonly store: Pick<KeyStore, 'getApp' | 'listApps'>;
}

/** The gateway-key side of API Gateway, injected: the API Gateway client when deployed, the local stack's emulation of it under `npm start`. */
export interface GatewayKeys {
  /** Creates an enabled API key with this value; returns its id. */
  create(name: string, value: string): Promise<string>;
  /** Adds the key to a usage plan; already there is fine. */
  attach(gatewayKeyId: string, usagePlanId: string): Promise<void>;
  /** Takes the key out of a usage plan; not there is fine. */
  detach(gatewayKeyId: string, usagePlanId: string): Promise<void>;
  /** Deletes the key; already gone is fine. */
  remove(gatewayKeyId: string): Promise<void>;
}

/** The plans this deployment has: name → usage plan id, and the plan an app without one gets. */
export interface PlanCatalog {
  readonly usagePlanIds: Readonly<Record<string, string>>;
  readonly defaultPlan?: string;
}

export interface AppPlanDeps {
  readonly store: Pick<KeyStore, 'getApp' | 'registerApp' | 'setAppPlan' | 'clearAppPlan' | 'setGatewayKeyOnKeys'>;
  readonly gatewayKeys: GatewayKeys;
  readonly plans: PlanCatalog;
  readonly now: () => Date;
  /** Told about a gateway key that could not be cleaned up after a failure (to find and delete it by hand). */
  readonly warn: (message: string, fields: Record<string, string>) => void;
}

export const getAppInput = z.strictObject({ appUid: appUidSchema });
export const listAppsInput = z.strictObject(pagingFields);

export const setAppPlanInput = z.strictObject({
  appUid: appUidSchema,
  plan: z.nullable(z.string({ error: 'plan must be a plan name or null' })),
  requestedBy: requestedBySchema,
});

/** set-app-plan also records each change of an app's plan in its activity log. */
export interface SetAppPlanDeps extends AppPlanDeps {
  readonly activity: Pick<ActivityStore, 'record'>;
}

/** An app as get-app, list-apps and set-app-plan show it: the registry item without the gateway key's value. */
export type AppView = Omit<AppRecord, 'gatewayKey'>;

export interface AppViewPage {
  readonly apps: AppView[];
  readonly nextToken?: string;
}

function view(app: AppRecord): AppView {
  const { gatewayKey: _value, ...shown } = app;
  return shown;
}

export async function getApp(deps: AppAdminDeps, input: unknown): Promise<AppView> {
  const { appUid } = parseInput(getAppInput, input, 'get-app input');
  const app = await deps.store.getApp(appUid);
  if (!app) throw new AppNotFound(appUid);
  return view(app);
}

export async function listApps(deps: AppAdminDeps, input: unknown): Promise<AppViewPage> {
  const { limit, nextToken } = parseInput(listAppsInput, input, 'list-apps input');
  const page = await deps.store.listApps(limit ?? DEFAULT_LIST_LIMIT, nextToken);
  const apps = page.apps.map(view);
  return page.nextToken ? { apps, nextToken: page.nextToken } : { apps };
}

/**
 * `{ appUid, plan }` puts the app on the plan; `plan: null` takes it off its
 * plan: back onto the default plan if there is one, else its gateway key is
 * deleted (with plans on, its keys are then refused with 403 until it gets a
 * plan again). Safe to repeat after a failure: each call brings API Gateway,
 * the registry and the hash items to the requested state.
 */
export async function setAppPlan(deps: SetAppPlanDeps, input: unknown): Promise<AppView> {
  const { appUid, plan, requestedBy } = parseInput(setAppPlanInput, input, 'set-app-plan input');
  const names = Object.keys(deps.plans.usagePlanIds);
  if (names.length === 0) throw new ValidationError('plan', 'plans are off in this deployment: there is no plan to put an app on');
  if (plan !== null && !Object.hasOwn(deps.plans.usagePlanIds, plan)) {
    // The rejected value is not repeated: whatever was pasted here stays out of errors and logs.
    throw new ValidationError('plan', `plan must be one of ${names.join(', ')}, or null to take the app off its plan`);
  }
  const current = await deps.store.getApp(appUid);
  const target = plan ?? deps.plans.defaultPlan;
  if (target === undefined && !current) throw new AppNotFound(appUid);
  // Recorded right after the registry changes (a later step may fail, and a call that changes nothing records nothing).
  const recordChange = async (app: AppRecord) => {
    if (app.plan === current?.plan) return;
    const event = activityEvent({ now: deps.now(), action: 'plan-changed', requestedBy, details: { plan: { from: current?.plan ?? null, to: app.plan ?? null } } });
    await deps.activity.record(
      appUid,
      event,
      'set-app-plan',
      `the plan of app ${appUid} was changed to ${app.plan ?? 'none'} but the change was not recorded in its activity log (calling again will not record it); call again to finish copying the gateway key onto its keys`,
    );
  };
  return view(await applyPlan(deps, appUid, current, target, recordChange));
}

/**
 * The gateway key create-key copies onto a new key's hash item: the app's,
 * after putting an app that has none on the default plan (if there is one).
 */
export async function gatewayKeyForNewKey(deps: AppPlanDeps, appUid: string): Promise<string | undefined> {
  const current = await deps.store.getApp(appUid);
  if (current?.gatewayKey !== undefined || deps.plans.defaultPlan === undefined) return current?.gatewayKey;
  return (await applyPlan(deps, appUid, current, deps.plans.defaultPlan)).gatewayKey;
}

const changedMeanwhile = (appUid: string) =>
  new StoreUnavailable(`the plan of app ${appUid} was changed by another call at the same time; nothing was changed, try again`);

/** `changed` is told of the registry's new record as soon as it is written, before the hash items follow. */
async function applyPlan(
  deps: AppPlanDeps,
  appUid: string,
  current: AppRecord | undefined,
  target: string | undefined,
  changed: (app: AppRecord) => Promise<void> = async () => {},
): Promise<AppRecord> {
  const { gatewayKeys, store } = deps;
  const keyId = current?.gatewayKeyId;

  if (target === undefined) {
    let app = current!;
    if (keyId !== undefined) {
      // Deleted first: the app's traffic stops at once, and a retry after a later failure finds the key id still recorded.
      await gatewayKeys.remove(keyId);
      app = (await store.clearAppPlan(appUid, keyId)) ?? raise(changedMeanwhile(appUid));
      await changed(app);
    }
    await store.setGatewayKeyOnKeys(appUid, undefined);
    return app;
  }

  const usagePlanId = usagePlanIdOf(deps.plans, target);
  if (keyId === undefined) {
    const value = randomGatewayKeyValue();
    const created = await gatewayKeys.create(`keygate-${appUid}`, value);
    let app: AppRecord;
    try {
      await gatewayKeys.attach(created, usagePlanId);
      // An app seen for the first time is registered (counting any keys from before the registry), then given the plan.
      if (!current) await store.registerApp(appUid, deps.now());
      app = (await store.setAppPlan(appUid, { plan: target, gatewayKeyId: created, gatewayKey: value }, undefined)) ?? raise(changedMeanwhile(appUid));
    } catch (error) {
      await gatewayKeys.remove(created).catch(() => deps.warn('could not delete a gateway key after a failed plan change; delete it by hand', { appUid, gatewayKeyId: created }));
      throw error;
    }
    await changed(app);
    await store.setGatewayKeyOnKeys(appUid, value);
    return app;
  }

  // A move keeps the gateway key, so the app's quota count survives it. API Gateway allows a key in one
  // usage plan per stage: out of the old plan, then into the new one (back into the old if that fails).
  const previous = current?.plan === undefined ? undefined : deps.plans.usagePlanIds[current.plan];
  if (previous !== undefined && previous !== usagePlanId) await gatewayKeys.detach(keyId, previous);
  try {
    await gatewayKeys.attach(keyId, usagePlanId);
  } catch (error) {
    if (previous !== undefined && previous !== usagePlanId) {
      await gatewayKeys.attach(keyId, previous).catch(() => deps.warn('a gateway key is in no usage plan after a failed move; set the plan again', { appUid, gatewayKeyId: keyId }));
    }
    throw error;
  }
  const app =
    current!.plan === target
      ? current!
      : ((await store.setAppPlan(appUid, { plan: target, gatewayKeyId: keyId, gatewayKey: current!.gatewayKey! }, keyId)) ?? raise(changedMeanwhile(appUid)));
  await changed(app);
  // Also repairs hash items a failed earlier call left behind.
  await store.setGatewayKeyOnKeys(appUid, app.gatewayKey);
  return app;
}

function usagePlanIdOf(plans: PlanCatalog, name: string): string {
  const id = plans.usagePlanIds[name];
  if (id === undefined) throw new ConfigurationError(`plan ${name} has no usage plan id in this deployment`);
  return id;
}

function raise(error: Error): never {
  throw error;
}
