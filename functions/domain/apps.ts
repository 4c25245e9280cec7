import * as z from 'zod/mini';
import { AppNotFound, ConfigurationError, StoreUnavailable, ValidationError } from './errors';
import { randomGatewayKeyValue } from './ids';
import type { AppRecord, AppStore } from '../stores/app-store';
import { appUidSchema, parseInput } from './validation';

/**
 * Apps and their plans (DESIGN §5, issue 17). An app on a plan has one
 * gateway API key in API Gateway, attached to that plan's usage plan. Its
 * value is kept in the app's registry item and on the hash item of each of
 * its keys, so the API-key authorizer returns it as `usageIdentifierKey` from
 * the one item it reads, and API Gateway throttles and counts the app's
 * requests against the plan. Moving an app between plans keeps its gateway
 * key (and so its quota count); rolling or replacing its keys does too.
 */

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
  readonly apps: Pick<AppStore, 'get' | 'setPlan' | 'clearPlan' | 'setGatewayKeyOnKeys'>;
  readonly gatewayKeys: GatewayKeys;
  readonly plans: PlanCatalog;
  readonly now: () => Date;
  /** Told about a gateway key that could not be cleaned up after a failure (to find and delete it by hand). */
  readonly warn: (message: string, fields: Record<string, string>) => void;
}

export const getAppInput = z.strictObject({ appUid: appUidSchema });

export const setAppPlanInput = z.strictObject({
  appUid: appUidSchema,
  plan: z.nullable(z.string({ error: 'plan must be a plan name or null' })),
});

/** What get-app and set-app-plan answer: the registry item without the gateway key's value. */
export interface AppView {
  readonly appUid: string;
  readonly createdAt: string;
  readonly keyCount: number;
  readonly plan?: string;
  readonly gatewayKeyId?: string;
}

function view(app: AppRecord): AppView {
  const { gatewayKey: _value, ...shown } = app;
  return shown;
}

export async function getApp(deps: { readonly apps: Pick<AppStore, 'get'> }, input: unknown): Promise<AppView> {
  const { appUid } = parseInput(getAppInput, input, 'get-app input');
  const app = await deps.apps.get(appUid);
  if (!app) throw new AppNotFound(appUid);
  return view(app);
}

/**
 * `{ appUid, plan }` puts the app on the plan; `plan: null` takes it off its
 * plan: back onto the default plan if there is one, else its gateway key is
 * deleted (with plans on, its keys are then refused with 403 until it gets a
 * plan again). Safe to repeat after a failure: each call brings API Gateway,
 * the registry and the hash items to the requested state.
 */
export async function setAppPlan(deps: AppPlanDeps, input: unknown): Promise<AppView> {
  const { appUid, plan } = parseInput(setAppPlanInput, input, 'set-app-plan input');
  const names = Object.keys(deps.plans.usagePlanIds);
  if (names.length === 0) throw new ValidationError('plan', 'plans are off in this deployment: there is no plan to put an app on');
  if (plan !== null && !Object.hasOwn(deps.plans.usagePlanIds, plan)) {
    // The rejected value is not repeated: whatever was pasted here stays out of errors and logs.
    throw new ValidationError('plan', `plan must be one of ${names.join(', ')}, or null to take the app off its plan`);
  }
  const current = await deps.apps.get(appUid);
  const target = plan ?? deps.plans.defaultPlan;
  if (target === undefined && !current) throw new AppNotFound(appUid);
  return view(await applyPlan(deps, appUid, current, target));
}

/**
 * The gateway key create-key copies onto a new key's hash item: the app's,
 * after putting an app that has none on the default plan (if there is one).
 */
export async function gatewayKeyForNewKey(deps: AppPlanDeps, appUid: string): Promise<string | undefined> {
  const current = await deps.apps.get(appUid);
  if (current?.gatewayKey !== undefined || deps.plans.defaultPlan === undefined) return current?.gatewayKey;
  return (await applyPlan(deps, appUid, current, deps.plans.defaultPlan)).gatewayKey;
}

const changedMeanwhile = (appUid: string) =>
  new StoreUnavailable(`the plan of app ${appUid} was changed by another call at the same time; nothing was changed, try again`);

async function applyPlan(deps: AppPlanDeps, appUid: string, current: AppRecord | undefined, target: string | undefined): Promise<AppRecord> {
  const { gatewayKeys, apps } = deps;
  const keyId = current?.gatewayKeyId;

  if (target === undefined) {
    let app = current!;
    if (keyId !== undefined) {
      // Deleted first: the app's traffic stops at once, and a retry after a later failure finds the key id still recorded.
      await gatewayKeys.remove(keyId);
      app = (await apps.clearPlan(appUid, keyId)) ?? raise(changedMeanwhile(appUid));
    }
    await apps.setGatewayKeyOnKeys(appUid, undefined);
    return app;
  }

  const usagePlanId = usagePlanIdOf(deps.plans, target);
  if (keyId === undefined) {
    const value = randomGatewayKeyValue();
    const created = await gatewayKeys.create(`keygate-${appUid}`, value);
    let app: AppRecord;
    try {
      await gatewayKeys.attach(created, usagePlanId);
      app = (await apps.setPlan(appUid, { plan: target, gatewayKeyId: created, gatewayKey: value }, undefined, deps.now())) ?? raise(changedMeanwhile(appUid));
    } catch (error) {
      await gatewayKeys.remove(created).catch(() => deps.warn('could not delete a gateway key after a failed plan change; delete it by hand', { appUid, gatewayKeyId: created }));
      throw error;
    }
    await apps.setGatewayKeyOnKeys(appUid, value);
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
      : ((await apps.setPlan(appUid, { plan: target, gatewayKeyId: keyId, gatewayKey: current!.gatewayKey! }, keyId, deps.now())) ?? raise(changedMeanwhile(appUid)));
  // Also repairs hash items a failed earlier call left behind.
  await apps.setGatewayKeyOnKeys(appUid, app.gatewayKey);
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
