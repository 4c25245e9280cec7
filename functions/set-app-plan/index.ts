import { documentClient } from '../stores/document-client';
import { adminHandler } from '../lambda/admin-handler';
import { appPlanDeps } from '../lambda/app-plans';
import { KeyStore } from '../stores/key-store';
import { ActivityStore } from '../stores/activity-store';
import { setAppPlan } from '../domain/apps';
import { servicesFromEnvironment } from '../lambda/services';

const services = servicesFromEnvironment();
// Plans off: an empty catalogue, so every call is a ValidationError saying so.
const db = documentClient(services.dynamodb);
const deps = { ...appPlanDeps(services.plans ?? { usagePlanIds: {} }, new KeyStore(db, services.tables.keys, services.sealer)), activity: new ActivityStore(db, services.tables.keys) };

/** Payload `{ appUid, plan, requestedBy? }` (`plan: null` takes the app off its plan) → the app as get-app shows it. */
export const handler = adminHandler('set-app-plan', (input) => setAppPlan(deps, input));
