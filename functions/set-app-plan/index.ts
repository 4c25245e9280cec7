import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { appPlanDeps } from '../lambda/app-plans';
import { KeyStore } from '../stores/key-store';
import { setAppPlan } from '../domain/apps';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
// Plans off: an empty catalogue, so every call is a ValidationError saying so.
const deps = appPlanDeps(services.plans ?? { usagePlanIds: {} }, new KeyStore(documentClient(services.dynamodb), services.tables.keys, services.sealer));

/** Payload `{ appUid, plan }` (`plan: null` takes the app off its plan) → the app as get-app shows it. */
export const handler = adminHandler('set-app-plan', (input) => setAppPlan(deps, input));
